package simulator

import (
	"slices"
)

// vmSecurityGroupJSON is a security group in a VM response (SecurityGroupResponse, without the VM list).
type vmSecurityGroupJSON struct {
	Account     string    `json:"account"`
	Description string    `json:"description,omitempty"`
	EgressRule  []any     `json:"egressrule"`
	ID          string    `json:"id"`
	IngressRule []any     `json:"ingressrule"`
	Name        string    `json:"name"`
	Tags        []tagJSON `json:"tags"`
}

// securityGroupJSON is one listSecurityGroups item.
type securityGroupJSON struct {
	vmSecurityGroupJSON
	Domain              string   `json:"domain"`
	DomainID            string   `json:"domainid"`
	VirtualMachineCount int      `json:"virtualmachinecount"`
	VirtualMachineIDs   []string `json:"virtualmachineids,omitempty"`
}

func (st *cloud) securityGroupByID(id string) *SecurityGroup {
	for _, g := range st.sgs {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// defaultSecurityGroup is the account's "default" group, which the server creates the first time the account deploys
// into a security-group zone without naming a group (SecurityGroupManagerImpl.createDefaultSecurityGroup).
func (st *cloud) defaultSecurityGroup(owner *account) *SecurityGroup {
	for _, g := range st.sgs {
		if g.Account == owner.Name && g.Name == "default" {
			return g
		}
	}
	g := &SecurityGroup{ID: StableID("securitygroup", owner.Name+"/default"), Name: "default", Description: "Default Security Group", Account: owner.Name}
	st.sgs = append(st.sgs, g)
	return g
}

// deploySecurityGroups checks securitygroupids/securitygroupnames as DeployVMCmd.verifyInputs and
// UserVmManagerImpl.createAdvancedSecurityGroupVirtualMachine do, before the job: both parameters at once, or either in
// a zone without security groups, is a 431; a group of another account is refused (531). In a security-group zone a
// deploy that names no group joins the account's default group.
func (s *Server) deploySecurityGroups(r *request, owner *account, z *zone) ([]*SecurityGroup, *apiError) {
	ids, names := listParam(r, "securitygroupids"), listParam(r, "securitygroupnames")
	if len(ids) > 0 && len(names) > 0 {
		return nil, errParam("securitygroupids parameter is mutually exclusive with securitygroupnames parameter")
	}
	if !z.SecurityGroupsEnabled {
		if len(ids) > 0 || len(names) > 0 {
			return nil, errParam("Can't create VM with security groups; security group feature is not enabled for zone %s", z.Name)
		}
		return nil, nil
	}
	var out []*SecurityGroup
	for _, id := range ids {
		g := s.st.securityGroupByID(id)
		if g == nil {
			return nil, errInvalidID(r, "securitygroupids", id)
		}
		if g.Account != owner.Name {
			return nil, errPermission("Account %s does not have permission to use security group %s", owner.Name, g.ID)
		}
		out = append(out, g)
	}
	for _, name := range names {
		i := slices.IndexFunc(s.st.sgs, func(g *SecurityGroup) bool { return g.Name == name && g.Account == owner.Name })
		if i < 0 {
			return nil, errParam("Unable to find security group by name %s for account %s", name, owner.Name)
		}
		out = append(out, s.st.sgs[i])
	}
	if len(out) == 0 {
		out = append(out, s.st.defaultSecurityGroup(owner))
	}
	return out, nil
}

func cmdListSecurityGroups(s *Server, r *request) (any, *apiError) {
	st := s.st
	if id := r.get("id"); id != "" && st.securityGroupByID(id) == nil {
		return nil, errInvalidID(r, "id", id)
	}
	sc, aerr := st.scope(r, r.has("id"))
	if aerr != nil {
		return nil, aerr
	}
	tags := tagPairs(r)
	var out []securityGroupJSON
	for _, g := range st.sgs {
		owner := st.byName[g.Account]
		if (r.has("id") && g.ID != r.get("id")) || !sc.sees(owner) || !nameMatches(r, g.Name, g.Description) ||
			(r.has("securitygroupname") && r.get("securitygroupname") != g.Name) || !st.matchesTags(g.ID, tags) {
			continue
		}
		var members []string
		for _, v := range st.vms {
			if slices.Contains(v.sgs, g) && !v.terminal() {
				members = append(members, v.id)
			}
		}
		if id := r.get("virtualmachineid"); id != "" && !slices.Contains(members, id) {
			continue
		}
		out = append(out, securityGroupJSON{
			vmSecurityGroupJSON: vmSecurityGroupJSON{Account: owner.Name, Description: g.Description, EgressRule: []any{}, ID: g.ID,
				IngressRule: []any{}, Name: g.Name, Tags: st.tagsJSON(g.ID)},
			Domain: domainName(owner.domainPath), DomainID: owner.domainID, VirtualMachineCount: len(members), VirtualMachineIDs: members})
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("securitygroup", page, total), nil
}
