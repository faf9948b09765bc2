package simulator

import "strings"

// projectJSON is a listProjects item (ProjectResponse); the resource counts and limits are left out.
type projectJSON struct {
	Created            string              `json:"created"`
	DisplayText        string              `json:"displaytext"`
	Domain             string              `json:"domain"`
	DomainID           string              `json:"domainid"`
	ID                 string              `json:"id"`
	Name               string              `json:"name"`
	Owner              []map[string]string `json:"owner"`
	ProjectAccountName string              `json:"projectaccountname"`
	State              string              `json:"state"`
	Tags               []tagJSON           `json:"tags"`
	VMRunning          int                 `json:"vmrunning"`
	VMStopped          int                 `json:"vmstopped"`
}

// cmdListProjects follows QueryManagerImpl.listProjectsInternal: a normal account, and any account without
// listall=true, sees only the projects it is a member of (so a project the caller is not in answers like one that
// does not exist: an empty list); with listall=true a root admin sees every project and a domain admin those of its
// domain and subdomains. name is an exact match as MySQL compares (any case); an id that is no project's is refused
// by the API layer with 431.
func cmdListProjects(s *Server, r *request) (any, *apiError) {
	st := s.st
	if id := r.get("id"); id != "" && st.projectByID(id) == nil {
		return nil, errInvalidID(r, "id", id)
	}
	listAll, _, aerr := parseBool(r, "listall")
	if aerr != nil {
		return nil, aerr
	}
	caller := r.acct
	var out []projectJSON
	for _, p := range st.projects {
		visible := p.members[caller]
		if listAll && caller.kind == acctRootAdmin || listAll && caller.kind == acctDomainAdmin && inDomain(p.account.domainPath, caller.domainPath) {
			visible = true
		}
		if !visible || r.has("id") && p.ID != r.get("id") || r.has("name") && !strings.EqualFold(p.Name, r.get("name")) ||
			r.has("state") && !strings.EqualFold(p.State, r.get("state")) ||
			r.has("keyword") && !containsFold(p.Name, r.get("keyword")) {
			continue
		}
		j := projectJSON{Created: csTime(s.createdAt()), DisplayText: p.Name, Domain: domainName(p.account.domainPath),
			DomainID: p.account.domainID, ID: p.ID, Name: p.Name, Owner: []map[string]string{}, ProjectAccountName: p.account.Name,
			State: projectState(p), Tags: []tagJSON{}}
		for m := range p.members {
			j.Owner = append(j.Owner, map[string]string{"account": m.Name})
		}
		for _, v := range st.vms {
			if v.owner == p.account && v.state == StateRunning {
				j.VMRunning++
			} else if v.owner == p.account && v.state == StateStopped {
				j.VMStopped++
			}
		}
		out = append(out, j)
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("project", page, total), nil
}

// projectState is the project's state; catalogs built in code may leave it empty, which means Active.
func projectState(p *project) string {
	if p.State == "" {
		return "Active"
	}
	return p.State
}
