package apikey_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apikey"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	tt "github.com/gatehouse/gatehouse/internal/tokentest"
)

// TestCapHoldsUnderConcurrency: 60 key creations for one app released at
// once, through one service or spread over two replicas of the same
// database, end with exactly MaxPerClient keys; the rest get ErrTooMany.
func TestCapHoldsUnderConcurrency(t *testing.T) {
	const limit, attempts = 10, 60
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			tt.ForEachBackendReplicas(t, replicas, func(t *testing.T, stores []*sqlstore.Store) {
				cfg := apikey.Config{MaxPerClient: limit}
				e := tt.New(t, stores[0], tt.Options{KeyConfig: cfg})
				owner := e.CreateUser("owner@example.com", false)
				e.CreateClient("app1", owner.ID, "profile:read")
				svcs := []*apikey.Service{e.APIKeys}
				for _, st := range stores[1:] {
					s, err := apikey.New(st, e.Hasher, e.Clock.Now, rand.Reader, nil, cfg)
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
						_, errs[i] = svcs[i%len(svcs)].Create(e.Ctx, apikey.Actor{UserID: owner.ID},
							apikey.CreateRequest{ClientID: "app1", Name: "k", Scopes: []string{"profile:read"}})
					})
				}
				close(start)
				wg.Wait()
				for _, err := range errs {
					switch {
					case err == nil:
						created++
					case !errors.Is(err, apikey.ErrTooMany):
						t.Errorf("unexpected error: %v", err)
					}
				}
				list, err := e.APIKeys.List(e.Ctx, apikey.Actor{UserID: owner.ID}, "app1")
				if err != nil {
					t.Fatal(err)
				}
				if created != limit || len(list) != limit {
					t.Fatalf("%d creations succeeded and %d keys stored; the cap is %d", created, len(list), limit)
				}
			})
		})
	}
}
