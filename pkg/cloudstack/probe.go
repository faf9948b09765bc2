package cloudstack

import "context"

// Probe asks CloudStack for its capabilities, the cheapest authenticated call, and records in
// karpenter_cloudstack_api_reachable whether it answered: 1 on an answer, 0 when it was unreachable or refused the
// credentials.
func (c *Client) Probe(ctx context.Context) error {
	_, err := c.Capabilities(ctx)
	if err != nil {
		c.metrics.reachable.Set(0)
		return err
	}
	c.metrics.reachable.Set(1)
	return nil
}
