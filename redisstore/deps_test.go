package redisstore_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLibraryLinksNoRedis keeps the rule that makes this package exist
// (docs/ARCHITECTURE.md): the library's other packages import no Redis
// client, so a program that verifies tokens with the memory store, or with a
// store of its own, links no go-redis. Only this package may import it.
// (go test puts its own go command first on the PATH.)
func TestLibraryLinksNoRedis(t *testing.T) {
	t.Parallel()
	pkgs := []string{
		"github.com/amojwt/amojwt/verifier",
		"github.com/amojwt/amojwt/middleware",
		"github.com/amojwt/amojwt/noncestore",
		"github.com/amojwt/amojwt/mockamo",
	}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
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
