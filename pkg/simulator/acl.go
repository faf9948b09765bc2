package simulator

import (
	"fmt"
	"strings"
)

// Account types, as com.cloud.user.Account.Type: they decide what list calls show and which resources a caller may
// operate on.
const (
	acctNormal      = "normal"
	acctRootAdmin   = "admin"
	acctDomainAdmin = "domainadmin"
	acctProject     = "project"
)

// projectCriteria is Project.ListProjectResourcesCriteria: whether project-owned resources are left out, or are all a
// listing shows.
type projectCriteria int

const (
	projectsUnset projectCriteria = iota
	projectsSkip
	projectsOnly
)

// aclScope is what buildACLSearchParameters computes for one list call: the accounts the caller may list, or else a
// domain (with or without its subdomains), plus the project criteria.
type aclScope struct {
	permitted map[*account]bool
	domain    string // domain path; "" = no domain restriction
	recursive bool
	projects  projectCriteria
}

// sees reports whether a resource owned by owner is in the scope (buildACLViewSearchCriteria). Objects without an
// owner (catalog objects shared by everyone) are always in it.
func (sc aclScope) sees(owner *account) bool {
	if owner == nil {
		return true
	}
	switch sc.projects {
	case projectsSkip:
		if owner.kind == acctProject {
			return false
		}
	case projectsOnly:
		if owner.kind != acctProject {
			return false
		}
	}
	if len(sc.permitted) > 0 {
		return sc.permitted[owner]
	}
	if sc.domain != "" {
		if sc.recursive {
			return inDomain(owner.domainPath, sc.domain)
		}
		return owner.domainPath == sc.domain
	}
	return true
}

// inDomain reports whether a domain path is the domain itself or one of its subdomains.
func inDomain(path, domain string) bool {
	return path == domain || strings.HasPrefix(path, domain+"/")
}

// scope follows AccountManagerImpl.buildACLSearchParameters for the parameters listall, account, domainid,
// isrecursive and projectid (-1 = every project the caller may see). hasID is true when the call names one resource
// by id, which widens what admins see without listall.
func (st *cloud) scope(r *request, hasID bool) (aclScope, *apiError) {
	caller := r.acct
	listAll, _, aerr := parseBool(r, "listall")
	if aerr != nil {
		return aclScope{}, aerr
	}
	recursive, _, aerr := parseBool(r, "isrecursive")
	if aerr != nil {
		return aclScope{}, aerr
	}
	sc := aclScope{permitted: map[*account]bool{}, recursive: recursive}
	if id := r.get("domainid"); id != "" {
		d := st.domainByID(id)
		if d == "" {
			return aclScope{}, errInvalidID(r, "domainid", id)
		}
		if aerr := checkDomainAccess(caller, d); aerr != nil {
			return aclScope{}, aerr
		}
		sc.domain = d
	}
	if name := r.get("account"); name != "" {
		if r.has("projectid") {
			return aclScope{}, errParam("Account and projectId can't be specified together")
		}
		domain := caller.domainPath
		if sc.domain != "" {
			domain = sc.domain
		}
		target := st.accountIn(name, domain)
		if target == nil {
			return aclScope{}, errParam("could not find account %s in domain %s", name, st.domainIDOf(domain))
		}
		if aerr := checkAccountAccess(caller, target); aerr != nil {
			return aclScope{}, aerr
		}
		sc.permitted[target] = true
	}
	if pid := r.get("projectid"); pid != "" {
		if pid == "-1" {
			if caller.kind == acctNormal {
				for _, p := range st.projects {
					if p.members[caller] {
						sc.permitted[p.account] = true
					}
				}
				if len(sc.permitted) == 0 {
					// A member of no project lists nothing (rather than everything, which an empty account list
					// would otherwise mean below).
					sc.projects = projectsOnly
					sc.permitted[nil] = true
				}
			} else {
				sc.projects = projectsOnly
			}
			return sc, nil
		}
		p := st.projectByID(pid)
		if p == nil {
			return aclScope{}, errInvalidID(r, "projectid", pid)
		}
		if !st.canAccessProject(caller, p) {
			return aclScope{}, errPermission("Account %s can't access project id=%s", caller.Name, p.ID)
		}
		sc.permitted[p.account] = true
		return sc, nil
	}
	if !hasID {
		sc.projects = projectsSkip
	}
	switch {
	case len(sc.permitted) == 0 && sc.domain == "":
		switch {
		case caller.kind == acctNormal:
			sc.permitted[caller] = true
		case !listAll && !hasID:
			sc.permitted[caller] = true
		case !listAll && caller.kind != acctRootAdmin:
			sc.domain, sc.recursive = caller.domainPath, true
		case listAll && caller.kind == acctDomainAdmin:
			sc.domain, sc.recursive = caller.domainPath, true
		}
	case sc.domain != "" && caller.kind == acctNormal:
		sc.permitted[caller] = true
	}
	return sc, nil
}

// checkDomainAccess is DomainChecker.checkAccess(caller, domain): a normal account works only in its own domain, an
// admin in its domain and the subdomains.
func checkDomainAccess(caller *account, domain string) *apiError {
	if caller.kind == acctNormal && caller.domainPath != domain || caller.kind != acctNormal && !inDomain(domain, caller.domainPath) {
		return errPermission("Account %s does not have permission to operate within domain id=%s", caller.Name, StableID("domain", domain))
	}
	return nil
}

// checkAccountAccess: a normal account may act only as itself, a domain admin on accounts of its subtree, a root
// admin on anyone.
func checkAccountAccess(caller, target *account) *apiError {
	if caller == target || caller.kind == acctRootAdmin || caller.kind == acctDomainAdmin && inDomain(target.domainPath, caller.domainPath) {
		return nil
	}
	return errPermission("Account %s does not have permission to access account %s", caller.Name, target.Name)
}

// canOperate is checkAccess(caller, entity) for a resource owned by owner: its account, a project it is a member of,
// or an admin over the owner's domain.
func (st *cloud) canOperate(caller, owner *account) bool {
	if owner == nil || caller == owner || caller.kind == acctRootAdmin {
		return true
	}
	if owner.kind == acctProject && owner.project != nil && st.canAccessProject(caller, owner.project) {
		return true
	}
	return caller.kind == acctDomainAdmin && inDomain(owner.domainPath, caller.domainPath)
}

// canAccessProject is ProjectManager.canAccessProjectAccount: members, root admins, and domain admins of the
// project's domain.
func (st *cloud) canAccessProject(caller *account, p *project) bool {
	return p.members[caller] || caller.kind == acctRootAdmin || caller.kind == acctDomainAdmin && inDomain(p.account.domainPath, caller.domainPath)
}

func (st *cloud) domainByID(id string) string {
	for _, a := range st.accounts {
		if a.domainID == id {
			return a.domainPath
		}
	}
	if id == st.domainID {
		return "ROOT"
	}
	return ""
}

func (st *cloud) domainIDOf(path string) string { return StableID("domain", path) }

func (st *cloud) accountIn(name, domain string) *account {
	for _, a := range st.accounts {
		if a.Name == name && a.domainPath == domain && a.kind != acctProject {
			return a
		}
	}
	return nil
}

func (st *cloud) projectByID(id string) *project {
	for _, p := range st.projects {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// domainName is the last component of a domain path, which is what responses call `domain`.
func domainName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// project is a CloudStack project: resources deployed with its projectid belong to its project account.
type project struct {
	Project
	account *account
	members map[*account]bool
}

func accountKind(a Account) string {
	switch {
	case a.RootAdmin:
		return acctRootAdmin
	case a.DomainAdmin:
		return acctDomainAdmin
	}
	return acctNormal
}

func (st *cloud) addProjects(c *Catalog) error {
	for i := range c.Projects {
		p := &project{Project: c.Projects[i], members: map[*account]bool{}}
		defaultID(&p.ID, "project", p.Name)
		if p.Domain == "" {
			p.Domain = "ROOT"
		}
		p.account = &account{Account: Account{ID: StableID("projectaccount", p.Name), Name: ProjectAccountName(p.Name, i), Domain: p.Domain},
			kind: acctProject, userID: StableID("user", "project/"+p.Name), domainPath: p.Domain, domainID: StableID("domain", p.Domain),
			num: len(st.accounts) + 2, project: p}
		for _, m := range p.Members {
			a := st.byName[m]
			if a == nil {
				return fmt.Errorf("project %q: member %q is not an account", p.Name, m)
			}
			p.members[a] = true
		}
		st.accounts = append(st.accounts, p.account)
		// Catalog resources of the project name its account (Catalog.complete), so lookups by owner name find it.
		st.byName[p.account.Name] = p.account
		st.projects = append(st.projects, p)
	}
	return nil
}
