package redisstore_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestLibraryLinksNoRedis keeps the rule that makes this package exist
// (docs/ARCHITECTURE.md): the library's other packages import no Redis
// client, so a program that verifies tokens with the memory store, or with a
// store of its own, links no go-redis. Only this package may import it.
func TestLibraryLinksNoRedis(t *testing.T) {
	t.Parallel()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	pkgs := []string{
		"github.com/amojwt/amojwt/verifier",
		"github.com/amojwt/amojwt/middleware",
		"github.com/amojwt/amojwt/noncestore",
		"github.com/amojwt/amojwt/mockamo",
	}
	out, err := exec.Command(goTool, append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, p := range pkgs {
		if !slices.Contains(deps, p) {
			t.Fatalf("go list -deps does not list %s: the check reads the wrong output\n%s", p, out)
		}
	}
	for _, d := range deps {
		if strings.Contains(d, "redis") {
			t.Errorf("%s is a dependency of %s; only redisstore may import a Redis client",
				d, strings.Join(pkgs, " "))
		}
	}
}
