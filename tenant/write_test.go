package tenant

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// TestCreateConcurrent: racing creations of the service provider and of
// tenants under a parent are serialised by the table lock, so exactly one
// service provider exists and the tenant cap holds.
func TestCreateConcurrent(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	ctx := context.Background()
	s, err := schema.Load(ctx, db.Pool, schema.Options{Overlay: filepath.Join("..", "fixtures", "schema.xml")})
	if err != nil {
		t.Fatal(err)
	}
	tt := *s.Tenants
	tt.MaxTenants = 4
	race := func(opts func(i int) CreateOptions) (ok, refused int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := Create(ctx, db.Pool, &tt, opts(i))
				var re *RuleError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.As(err, &re):
					refused++
				default:
					t.Errorf("create %d: %v", i, err)
				}
			}(i)
		}
		wg.Wait()
		return ok, refused
	}
	if ok, refused := race(func(i int) CreateOptions {
		return CreateOptions{Name: fmt.Sprintf("SP%d", i), ServiceProvider: true, SubtenantsAllowed: true}
	}); ok != 1 || refused != 5 {
		t.Errorf("service providers: %d created, %d refused", ok, refused)
	}
	if ok, refused := race(func(i int) CreateOptions {
		return CreateOptions{Name: fmt.Sprintf("T%d", i)}
	}); ok != 3 || refused != 3 {
		t.Errorf("tenants under a cap of 4: %d created, %d refused", ok, refused)
	}
	if n := db.Value(t, "SELECT count(*) FILTER (WHERE service_provider) || '/' || count(*) FROM ca_tenant"); n != "1/4" {
		t.Errorf("service providers/tenants = %s, want 1/4", n)
	}
}
