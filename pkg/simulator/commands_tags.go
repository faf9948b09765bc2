package simulator

import (
	"fmt"
	"strings"
	"time"
)

// resourceOwner finds a taggable resource and its owner, or reports that it does not exist.
func (st *cloud) resourceOwner(resourceType, id string) (*account, bool) {
	switch resourceType {
	case "UserVm":
		if v := st.vmByID[id]; v != nil {
			return v.owner, true
		}
	case "Network":
		if n := st.networkByID(id); n != nil {
			return st.byName[n.Account], true
		}
	case "Template":
		if t := st.templateByID(id); t != nil {
			return st.byName[t.Account], true
		}
	case "ServiceOffering":
		if st.offeringByID(id) != nil {
			return st.accounts[0], true
		}
	case "Zone":
		if st.zoneByID(id) != nil {
			return st.accounts[0], true
		}
	}
	return nil, false
}

// cmdCreateTags validates the parameters the API layer checks, then applies the tags inside the job, where
// TaggedResourceManagerImpl runs: an unknown resource or a duplicate key fails the job with 431.
func cmdCreateTags(s *Server, r *request) (any, *apiError) {
	ids := listParam(r, "resourceids")
	if len(ids) == 0 {
		return nil, errMissing(r, "resourceids")
	}
	rt := r.get("resourcetype")
	if rt == "" {
		return nil, errMissing(r, "resourcetype")
	}
	pairs := tagPairs(r)
	if len(pairs) == 0 {
		return nil, errMissing(r, "tags")
	}
	canonical, ok := canonicalResourceType(rt)
	if !ok {
		return nil, errParam("Invalid resource type: %s", rt)
	}
	j := s.newJob(r, jobClass+"tag.CreateTagsCmd", "", "")
	st := s.st
	s.after(tagJobLatency(s), func() {
		var add []*resourceTag
		for _, id := range ids {
			owner, ok := st.resourceOwner(canonical, id)
			if !ok {
				s.failJob(j, 431, fmt.Sprintf("Unable to find resource by id %s and type %s", id, canonical))
				return
			}
			if owner != r.acct && !r.acct.RootAdmin {
				s.failJob(j, 531, fmt.Sprintf("Account %s does not have permission to tag resource %s", r.acct.Name, id))
				return
			}
			for _, p := range pairs {
				if strings.TrimSpace(p.key) == "" {
					s.failJob(j, 431, "Tag key can't be empty")
					return
				}
				for _, t := range st.tagsOf(id) {
					// resource_tags compares keys case-insensitively, ignoring surrounding blanks: "Team" and
					// "team " are the same key on the server.
					if sameTagKey(t.key, p.key) {
						s.failJob(j, 431, fmt.Sprintf("tag %s already on %s with id %s", p.key, canonical, id))
						return
					}
				}
				add = append(add, &resourceTag{key: p.key, value: p.value, resourceType: canonical, resourceID: id, owner: owner})
			}
		}
		st.tags = append(st.tags, add...)
		s.succeedJob(j, map[string]any{"success": true})
	})
	return map[string]string{"jobid": j.id}, nil
}

func cmdDeleteTags(s *Server, r *request) (any, *apiError) {
	ids := listParam(r, "resourceids")
	if len(ids) == 0 {
		return nil, errMissing(r, "resourceids")
	}
	rt := r.get("resourcetype")
	if rt == "" {
		return nil, errMissing(r, "resourcetype")
	}
	canonical, ok := canonicalResourceType(rt)
	if !ok {
		return nil, errParam("Invalid resource type: %s", rt)
	}
	pairs := tagPairs(r)
	j := s.newJob(r, jobClass+"tag.DeleteTagsCmd", "", "")
	st := s.st
	s.after(tagJobLatency(s), func() {
		kept := st.tags[:0]
		for _, t := range st.tags {
			drop := t.resourceType == canonical && containsString(ids, t.resourceID) && (t.owner == r.acct || r.acct.RootAdmin)
			if drop && len(pairs) > 0 {
				drop = false
				for _, p := range pairs {
					// TaggedResourceManagerImpl.deleteTags: equalsIgnoreCase on the key and on the value.
					if strings.EqualFold(p.key, t.key) && (p.value == "" || strings.EqualFold(p.value, t.value)) {
						drop = true
					}
				}
			}
			if !drop {
				kept = append(kept, t)
			}
		}
		st.tags = kept
		s.succeedJob(j, map[string]any{"success": true})
	})
	return map[string]string{"jobid": j.id}, nil
}

func cmdListTags(s *Server, r *request) (any, *apiError) {
	st := s.st
	listAll, _, aerr := parseBool(r, "listall")
	if aerr != nil {
		return nil, aerr
	}
	var out []tagJSON
	for _, t := range st.tags {
		if !visible(r, t.owner, listAll) || (r.has("resourceid") && t.resourceID != r.get("resourceid")) ||
			(r.has("resourcetype") && !strings.EqualFold(t.resourceType, r.get("resourcetype"))) ||
			(r.has("key") && t.key != r.get("key")) || (r.has("value") && t.value != r.get("value")) ||
			(r.has("keyword") && !containsFold(t.key, r.get("keyword")) && !containsFold(t.value, r.get("keyword"))) {
			continue
		}
		out = append(out, st.tagJSON(t))
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("tag", page, total), nil
}

// tagJobLatency: tag jobs are database-only on a real server and finish far faster than VM jobs.
func tagJobLatency(s *Server) time.Duration { return s.jobLatency() / 10 }

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// sameTagKey compares tag keys as the server does: without regard to case or surrounding blanks.
func sameTagKey(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}
