package environment

import (
	"context"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
)

// DataDisks lists the DATADISK volumes of the controller's account, attached or not, as CloudStack reports them.
func (e *Environment) DataDisks(ctx context.Context) ([]*csgo.Volume, error) {
	api, err := e.cloudStackAPI()
	if err != nil {
		return nil, err
	}
	return api.ListDataDisks(ctx, "", nil)
}
