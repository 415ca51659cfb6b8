package pat_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/pat"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

// TestCapHoldsUnderConcurrency: 60 creations for one user released at once,
// through one service or spread over two replicas of the same database, end
// with exactly MaxPerUser PATs; every other request gets ErrTooMany.
func TestCapHoldsUnderConcurrency(t *testing.T) {
	const limit, attempts = 10, 60
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			tt.ForEachBackendReplicas(t, replicas, func(t *testing.T, stores []*sqlstore.Store) {
				cfg := pat.Config{MaxPerUser: limit}
				e := tt.New(t, stores[0], tt.Options{PATConfig: cfg})
				u := e.CreateUser("cap@example.com", false)
				svcs := []*pat.Service{e.PATs}
				for _, st := range stores[1:] {
					s, err := pat.New(st, e.Hasher, e.Clock.Now, rand.Reader, nil, cfg)
					if err != nil {
						t.Fatal(err)
					}
					svcs = append(svcs, s)
				}
				var (
					wg      sync.WaitGroup
					start   = make(chan struct{})
					errs    = make([]error, attempts)
					created int
				)
				for i := range attempts {
					wg.Go(func() {
						<-start
						_, errs[i] = svcs[i%len(svcs)].Create(e.Ctx, pat.CreateRequest{UserID: u.ID, Description: "cap"})
					})
				}
				close(start)
				wg.Wait()
				for _, err := range errs {
					switch {
					case err == nil:
						created++
					case !errors.Is(err, pat.ErrTooMany):
						t.Errorf("unexpected error: %v", err)
					}
				}
				list, err := e.PATs.List(e.Ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if created != limit || len(list) != limit {
					t.Fatalf("%d creations succeeded and %d PATs stored; the cap is %d", created, len(list), limit)
				}
			})
		})
	}
}
