package testenv_test

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/httpoidc/httpoidc/internal/testenv"
)

func TestRedis(t *testing.T) {
	ctx := testContext(t)
	addr := testenv.StartRedis(t)
	require.Regexp(t, `^127\.0\.0\.1:\d+$`, addr)

	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(ctx).Err())
	require.NoError(t, rdb.Set(ctx, "session:1", "alice", 0).Err())
	got, err := rdb.Get(ctx, "session:1").Result()
	require.NoError(t, err)
	require.Equal(t, "alice", got)
	save, err := rdb.ConfigGet(ctx, "save").Result()
	require.NoError(t, err)
	require.Equal(t, "", save["save"], "no persistence")
}
