package httpoidc_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEGoBlocks keeps every ```go block of README.md gofmt-formatted
// and compiling and, where it holds tests, passing, so that what a reader
// copies works. New blocks need no configuration here; how a block is
// compiled depends on how it starts:
//
//   - A block that starts with "package" is a whole file, compiled as it is
//     in a module of its own that requires httpoidc (this checkout). When its
//     package name ends in _test or it declares a func TestXxx, it is a test
//     file and its tests are run.
//
//   - Any other block is a fragment: statements, compiled as the body of a
//     function. The names a fragment takes from the text around it (the ctx,
//     mux or oc of an earlier block, a handler of the reader's) are that
//     function's parameters, declared in an HTML comment on the line right
//     before the block, which readers of the rendered README do not see:
//
//     <!-- go fragment: ctx context.Context, mux *http.ServeMux, oc *httpoidc.OpenIDConnect -->
//
// A fragment gets the imports of the packages it names (readmeImports; add
// one there when a block needs another), and may leave variables unused.
// Errors point at README.md's lines.
func TestREADMEGoBlocks(t *testing.T) {
	// Its time goes to go vet and go test in another process: let the
	// package's other tests use the wait.
	t.Parallel()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command compiles the README's blocks")
	root, err := os.Getwd()
	require.NoError(t, err)
	blocks := readmeBlocks(t, filepath.Join(root, "README.md"))
	require.NotEmpty(t, blocks)

	dir := t.TempDir()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	// The repository's own requirements pin every module a block may
	// import, so nothing is looked up (GOPROXY=off below).
	gomod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(gomod, []byte("module readme.example"))
	gomod = fmt.Appendf(gomod, "\nrequire github.com/httpoidc/httpoidc v0.0.0\n\nreplace github.com/httpoidc/httpoidc => %s\n", root)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), gomod, 0o644))
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644))

	for _, b := range blocks {
		formatted, err := format.Source([]byte(b.code))
		if err != nil {
			t.Errorf("README.md:%d: the block does not parse: %v", b.line, err)
			continue
		}
		if string(formatted) != b.code {
			t.Errorf("README.md:%d: the block is not gofmt-formatted; gofmt makes it:\n%s", b.line, formatted)
		}
		name, src, err := b.file(filepath.Join(root, "README.md"))
		if err != nil {
			t.Errorf("README.md:%d: %v", b.line, err)
			continue
		}
		path := filepath.Join(dir, fmt.Sprintf("line%d", b.line), name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, src, 0o644))
	}
	if t.Failed() {
		return
	}
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s on the README's Go blocks (a fragment names what it takes from the text around it in a go fragment comment, see TestREADMEGoBlocks):\n%s",
			strings.Join(args, " "), out)
		t.Logf("go %s:\n%s", strings.Join(args, " "), out)
	}
}

// readmeBlock is one ```go block of the README.
type readmeBlock struct {
	line  int    // README line of its first line of code
	code  string // its code, with the final newline
	given string // a fragment's parameters, from its go fragment comment
}

var fragmentComment = regexp.MustCompile(`^<!-- go fragment: (.*) -->$`)

func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var blocks []readmeBlock
	var current *readmeBlock
	previous := ""
	scanner := bufio.NewScanner(f)
	for n := 1; scanner.Scan(); n++ {
		line := scanner.Text()
		switch {
		case current == nil && line == "```go":
			current = &readmeBlock{line: n + 1}
			if m := fragmentComment.FindStringSubmatch(previous); m != nil {
				current.given = m[1]
			}
		case current != nil && line == "```":
			blocks = append(blocks, *current)
			current = nil
		case current != nil:
			current.code += line + "\n"
		}
		previous = line
	}
	require.NoError(t, scanner.Err())
	require.Nil(t, current, "README.md: a ```go block is not closed")
	return blocks
}

// readmeImports are the packages fragments may use by name.
var readmeImports = map[string]string{
	"context":      "context",
	"errors":       "errors",
	"fmt":          "fmt",
	"io":           "io",
	"json":         "encoding/json",
	"log":          "log",
	"slog":         "log/slog",
	"http":         "net/http",
	"httptest":     "net/http/httptest",
	"url":          "net/url",
	"os":           "os",
	"strings":      "strings",
	"testing":      "testing",
	"time":         "time",
	"httpoidc":     "github.com/httpoidc/httpoidc",
	"oidctest":     "github.com/httpoidc/httpoidc/oidctest",
	"chi":          "github.com/go-chi/chi/v5",
	"redis":        "github.com/redis/go-redis/v9",
	"goredisstore": "github.com/alexedwards/scs/goredisstore",
	"require":      "github.com/stretchr/testify/require",
}

var testFunc = regexp.MustCompile(`(?m)^func Test[A-Z_]`)

// file returns the Go file that compiles the block, and its name. Line
// directives make errors point at readme, the README's path.
func (b readmeBlock) file(readme string) (string, []byte, error) {
	if strings.HasPrefix(b.code, "package ") {
		pkg, _, _ := strings.Cut(strings.TrimPrefix(b.code, "package "), "\n")
		name := "block.go"
		if strings.HasSuffix(pkg, "_test") || testFunc.MatchString(b.code) {
			name = "block_test.go"
		}
		return name, fmt.Appendf(nil, "//line %s:%d\n%s", readme, b.line, b.code), nil
	}
	// The body sits in a block of its own, so that it may declare the
	// names it is given again (mux := ...).
	src := fmt.Sprintf("package fragment\n\nfunc fragment(%s) {\n\t{\n%s\t}\n}\n", b.given, b.code)
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "README.md", src, parser.SkipObjectResolution)
	if err != nil {
		return "", nil, fmt.Errorf("the fragment (given %q) does not parse: %w", b.given, err)
	}
	body := file.Decls[0].(*ast.FuncDecl).Body.List[0].(*ast.BlockStmt)

	// Declared names: what the fragment leaves unused is used here.
	var unused []string
	declare := func(id *ast.Ident) {
		if id.Name != "_" && !slices.Contains(unused, id.Name) {
			unused = append(unused, id.Name)
		}
	}
	declared := map[string]bool{}
	for _, p := range file.Decls[0].(*ast.FuncDecl).Type.Params.List {
		for _, id := range p.Names {
			declared[id.Name] = true
		}
	}
	for _, stmt := range body.List {
		switch s := stmt.(type) {
		case *ast.AssignStmt:
			if s.Tok == token.DEFINE {
				for _, e := range s.Lhs {
					if id, ok := e.(*ast.Ident); ok {
						declare(id)
						declared[id.Name] = true
					}
				}
			}
		case *ast.DeclStmt:
			if g, ok := s.Decl.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, spec := range g.Specs {
					for _, id := range spec.(*ast.ValueSpec).Names {
						declare(id)
						declared[id.Name] = true
					}
				}
			}
		}
	}
	// Packages: every readmeImports name used as pkg.Name and not
	// declared by the fragment or given to it.
	var imports []string
	ast.Inspect(file, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && !declared[id.Name] {
				if path, known := readmeImports[id.Name]; known && !slices.Contains(imports, path) {
					imports = append(imports, path)
				}
			}
		}
		return true
	})
	slices.Sort(imports)

	var out bytes.Buffer
	out.WriteString("package fragment\n\nimport (\n")
	for _, path := range imports {
		fmt.Fprintf(&out, "\t%q\n", path)
	}
	fmt.Fprintf(&out, ")\n\nfunc fragment(%s) {\n\t{\n//line %s:%d\n%s", b.given, readme, b.line, b.code)
	for _, name := range unused {
		fmt.Fprintf(&out, "\t\t_ = %s\n", name)
	}
	out.WriteString("\t}\n}\n")
	return "fragment.go", out.Bytes(), nil
}
