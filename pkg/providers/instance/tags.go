package instance

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"

	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

// TagChange is what to change in the tags of one VM: Delete maps each key to remove to the value the VM carries (the
// server deletes by key and value), Create maps each key to add to its value. A changed value is a Delete of the old
// pair plus a Create of the new one, since createTags refuses a key the VM already has.
type TagChange struct {
	VMID   string
	Delete map[string]string
	Create map[string]string
}

// IsEmpty reports whether the change changes nothing.
func (c TagChange) IsEmpty() bool { return len(c.Delete) == 0 && len(c.Create) == 0 }

// ChangeTags applies tag changes to many VMs with as few requests as possible: VMs with the same change (the usual
// case: one NodeClass edit changes all of its VMs alike) share one deleteTags and one createTags, whatever their
// number. Both commands are all-or-nothing on the server, so when a shared request fails (say one VM was destroyed
// meanwhile) each VM of it is retried alone, and one VM's failure does not hold back the others. It returns the
// error of each VM that could not be changed, by VM ID.
func (p *DefaultProvider) ChangeTags(ctx context.Context, changes []TagChange) map[string]error {
	groups := map[string][]TagChange{}
	var order []string
	for _, c := range changes {
		if c.IsEmpty() {
			continue
		}
		k := changeKey(c)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	failed := map[string]error{}
	for _, k := range order {
		group := groups[k]
		ids := make([]string, 0, len(group))
		for _, c := range group {
			ids = append(ids, c.VMID)
		}
		err := p.applyTagChange(ctx, ids, group[0])
		if err == nil {
			continue
		}
		if len(group) == 1 {
			failed[group[0].VMID] = err
			continue
		}
		for _, c := range group {
			// Alone, a VM whose deleteTags already went through in the shared request only needs its creates.
			if err := p.applyTagChange(ctx, []string{c.VMID}, c); err != nil {
				failed[c.VMID] = err
			}
		}
	}
	return failed
}

// applyTagChange deletes then creates the change's tags on the VMs. Deleting a tag that is already gone from every
// VM fails on the server ("Failed to delete tags"); that is the state wanted, so it counts as done.
func (p *DefaultProvider) applyTagChange(ctx context.Context, ids []string, c TagChange) error {
	if len(c.Delete) > 0 {
		if err := p.api.DeleteTags(ctx, ids, ResourceTypeVM, c.Delete); err != nil && !cserrors.IsNothingToDelete(err) {
			return fmt.Errorf("deleting tags %v of VMs %v, %w", sortedKeys(c.Delete), ids, err)
		}
	}
	if len(c.Create) > 0 {
		if err := p.api.CreateTags(ctx, ids, ResourceTypeVM, c.Create); err != nil {
			return fmt.Errorf("creating tags %v on VMs %v, %w", sortedKeys(c.Create), ids, err)
		}
	}
	return nil
}

// changeKey identifies changes that one request pair can apply to several VMs.
func changeKey(c TagChange) string {
	var b strings.Builder
	for _, part := range []map[string]string{c.Delete, c.Create} {
		for _, k := range sortedKeys(part) {
			fmt.Fprintf(&b, "%q=%q,", k, part[k])
		}
		b.WriteByte('|')
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := sets.KeySet(m).UnsortedList()
	sort.Strings(keys)
	return keys
}
