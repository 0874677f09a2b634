package httpoidc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	"github.com/alexedwards/scs/v2"
)

// sessionCodec is the scs.Codec of the session manager New creates. scs's
// GobCodec builds a gob encoder and decoder, type descriptions included,
// for every request, which cost more than the rest of a logged-in request.
// A session holding only strings (httpoidc's own value is one, and so are
// most applications') is stored in a plain binary form instead:
//
//	sessionMagic, varint deadline (Unix nanoseconds), uvarint count,
//	then count times uvarint length + key, uvarint length + value.
//
// A session holding anything else is stored with GobCodec, as before, so
// an application's own gob-registered values keep working. Decode reads
// both, so sessions stored by earlier releases (all gob) stay readable.
type sessionCodec struct{}

// sessionMagic starts the binary form. A gob stream never starts with a
// zero byte: its first byte is the length of a non-empty message.
const sessionMagic = "\x00hs1"

var errSessionFormat = errors.New("httpoidc: malformed session record")

// Encode implements scs.Codec.
func (sessionCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	size := len(sessionMagic) + 2*binary.MaxVarintLen64
	for k, v := range values {
		s, ok := v.(string)
		if !ok {
			return scs.GobCodec{}.Encode(deadline, values)
		}
		size += len(k) + len(s) + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, size)
	b = append(b, sessionMagic...)
	b = binary.AppendVarint(b, deadline.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(values)))
	for k, v := range values {
		s := v.(string)
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b, nil
}

// Decode implements scs.Codec. Malformed input is an error, never a panic.
func (sessionCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	rest, ok := bytes.CutPrefix(b, []byte(sessionMagic))
	if !ok {
		return scs.GobCodec{}.Decode(b)
	}
	nanos, n := binary.Varint(rest)
	if n <= 0 {
		return time.Time{}, nil, errSessionFormat
	}
	rest = rest[n:]
	count, n := binary.Uvarint(rest)
	// Every entry takes at least two bytes, which bounds the map's size
	// by the record's.
	if n <= 0 || count > uint64(len(rest)/2) {
		return time.Time{}, nil, errSessionFormat
	}
	rest = rest[n:]
	values := make(map[string]any, count)
	next := func() (string, bool) {
		size, n := binary.Uvarint(rest)
		if n <= 0 || size > uint64(len(rest)-n) {
			return "", false
		}
		s := string(rest[n : n+int(size)])
		rest = rest[n+int(size):]
		return s, true
	}
	for range count {
		k, ok := next()
		if !ok {
			return time.Time{}, nil, errSessionFormat
		}
		v, ok := next()
		if !ok {
			return time.Time{}, nil, errSessionFormat
		}
		values[k] = v
	}
	if len(rest) != 0 {
		return time.Time{}, nil, errSessionFormat
	}
	return time.Unix(0, nanos), values, nil
}
