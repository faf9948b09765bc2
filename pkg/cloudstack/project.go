package cloudstack

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

// ProjectSetting names the setting of the project in messages, so an operator knows what to change.
const ProjectSetting = "--cloudstack-project (CLOUDSTACK_PROJECT, chart value settings.cloudstack.project)"

// projectStateActive is the only state in which a project accepts new resources.
const projectStateActive = "Active"

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Project is the CloudStack project the client works in.
type Project struct {
	ID, Name, Domain, State string
}

// ResolveProject implements API.
func (c *Client) ResolveProject(ctx context.Context) (*Project, error) {
	ref := c.opts.Project
	if ref == "" {
		return nil, nil
	}
	found, err := c.listProjects(ctx, ref)
	if err != nil {
		if pe, ok := c.projectRefused(ref, err); ok {
			return nil, pe
		}
		return nil, fmt.Errorf("resolving project %q, %w", ref, err)
	}
	var pe *cserrors.ProjectError
	switch {
	case len(found) == 0:
		pe = cserrors.NewProjectError(cserrors.ReasonProjectNotFound, fmt.Sprintf("%s is %q, but listProjects shows the API key's account "+
			"no project of that name or ID: CloudStack shows only the projects an account is a member of, so either correct "+
			"the setting or add the account to the project (Projects > %s > Accounts / Add account)", ProjectSetting, ref, ref), nil)
	case len(found) > 1:
		var where []string
		for _, p := range found {
			where = append(where, fmt.Sprintf("%s in domain %s", p.Id, p.Domain))
		}
		pe = cserrors.NewProjectError(cserrors.ReasonProjectAmbiguous, fmt.Sprintf("%s is %q, which names %d projects the API key sees (%s): "+
			"set it to the ID of the one to use", ProjectSetting, ref, len(found), strings.Join(where, ", ")), nil)
	case !strings.EqualFold(found[0].State, projectStateActive):
		pe = cserrors.NewProjectError(cserrors.ReasonProjectNotActive, fmt.Sprintf("%s: project %s (%s) is %s; CloudStack creates "+
			"nothing in a project that is not Active: activate it (activateProject) or change the setting", ProjectSetting,
			found[0].Name, found[0].Id, found[0].State), nil)
	}
	if pe != nil {
		c.project.Store(nil)
		return nil, pe
	}
	p := &Project{ID: found[0].Id, Name: found[0].Name, Domain: found[0].Domain, State: found[0].State}
	if old := c.project.Swap(&p.ID); old == nil || *old != p.ID {
		log.FromContext(ctx).Info("resolved the CloudStack project", "project", p.Name, "project-id", p.ID, "domain", p.Domain)
	}
	return p, nil
}

// listProjects asks for the project by ID when ref is a UUID and by name otherwise. listall=true makes no difference
// for a normal account (it sees the projects it is a member of either way) but lets an admin key, which may work in
// any project of its domain, find one it is not a member of. The name filter is the server's (exact, as MySQL
// compares: without regard to case); the client compares again.
func (c *Client) listProjects(ctx context.Context, ref string) ([]*csgo.Project, error) {
	byID := uuidRE.MatchString(ref)
	all, err := listAll(ctx, c, "listProjects", func(n, size int) (page[*csgo.Project], error) {
		p := &csgo.ListProjectsParams{}
		if byID {
			p.SetId(ref)
		} else {
			p.SetName(ref)
		}
		p.SetListall(true)
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().Project.ListProjects(p)
		if err != nil {
			return page[*csgo.Project]{}, err
		}
		return page[*csgo.Project]{r.Projects, r.Count}, nil
	})
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, p := range all {
		if byID && strings.EqualFold(p.Id, ref) || !byID && strings.EqualFold(p.Name, ref) {
			out = append(out, p)
		}
	}
	return out, nil
}

// projectRefused turns listProjects' 431 for an unknown project ID into ProjectNotFound.
func (c *Client) projectRefused(ref string, err error) (*cserrors.ProjectError, bool) {
	if cserrors.Code(err) != cserrors.CodeParamError || !uuidRE.MatchString(ref) {
		return nil, false
	}
	c.project.Store(nil)
	return cserrors.NewProjectError(cserrors.ReasonProjectNotFound, fmt.Sprintf("%s is %q, but no project has that ID: correct the "+
		"setting (listProjects or the UI show the project's ID)", ProjectSetting, ref), err), true
}

// projectID is the projectid every call that takes one sends: "" without a configured project, else the resolved
// project's ID, resolving it first when needed. A project that cannot be resolved fails the call before anything is
// sent, so no request of a project-scoped controller ever runs in the account outside its project.
func (c *Client) projectID(ctx context.Context) (string, error) {
	if c.opts.Project == "" {
		return "", nil
	}
	if id := c.project.Load(); id != nil {
		return *id, nil
	}
	p, err := c.ResolveProject(ctx)
	if err != nil {
		return "", err
	}
	return p.ID, nil
}

// inProject wraps the error of a call that sent a projectid: when the server refused the project (the account left
// it, or it was deleted, after it was resolved), the resolved ID is forgotten, so the next call resolves it again and
// fails with a ProjectError instead of repeating the refused request.
func (c *Client) inProject(err error) error {
	if err != nil && c.opts.Project != "" && cserrors.IsProjectUnavailable(err) {
		c.project.Store(nil)
	}
	return err
}
