package simulator

import (
	"fmt"
	"slices"
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
	case "SecurityGroup":
		if g := st.securityGroupByID(id); g != nil {
			return st.byName[g.Account], true
		}
	case "Volume":
		if v := st.volumeByID(id); v != nil {
			return v.owner, true
		}
	}
	return nil, false
}

// cmdCreateTags validates the parameters the API layer checks, then applies the tags inside the job, where
// TaggedResourceManagerImpl.createTags runs, all or nothing: an unknown resource or an empty value fails the job with
// 431 ("Value for the key K is either null or empty"), a key the resource already has with 530 (the database's
// unique key: "tag K already on UserVm with id I").
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
		if s.faults.takeTagJobFailure() {
			s.failJob(j, 530, "Internal error executing command, please contact your system administrator")
			return
		}
		var add []*resourceTag
		for _, id := range ids {
			owner, ok := st.resourceOwner(canonical, id)
			if !ok {
				s.failJob(j, 431, fmt.Sprintf("Unable to find resource by id %s and type %s", id, canonical))
				return
			}
			if !st.canOperate(r.acct, owner) {
				s.failJob(j, 531, fmt.Sprintf("Account %s does not have permission to tag resource %s", r.acct.Name, id))
				return
			}
			for _, p := range pairs {
				if strings.TrimSpace(p.key) == "" {
					s.failJob(j, 431, "Tag key can't be empty")
					return
				}
				if p.value == "" {
					s.failJob(j, 431, fmt.Sprintf("Value for the key %s is either null or empty", p.key))
					return
				}
				for _, t := range append(st.tagsOf(id), add...) {
					// resource_tags compares keys case-insensitively, ignoring surrounding blanks: "Team" and
					// "team " are the same key on the server.
					if t.resourceID == id && sameTagKey(t.key, p.key) {
						s.failJob(j, 530, fmt.Sprintf("tag %s already on %s with id %s", p.key, canonical, id))
						return
					}
				}
				add = append(add, &resourceTag{key: p.key, value: p.value, resourceType: canonical, resourceID: id, owner: owner})
			}
		}
		st.tags = append(st.tags, add...)
		st.touchIDs(ids)
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
	// TaggedResourceManagerImpl.deleteTags: keys and values compare case-insensitively; deleting nothing makes the
	// command fail with 530 "Failed to delete tags", deleting another account's tag without access with 531.
	s.after(tagJobLatency(s), func() {
		var drop []*resourceTag
		for _, t := range st.tags {
			if t.resourceType != canonical || !containsString(ids, t.resourceID) {
				continue
			}
			match := len(pairs) == 0
			for _, p := range pairs {
				match = match || strings.EqualFold(p.key, t.key) && (p.value == "" || strings.EqualFold(p.value, t.value))
			}
			if match {
				drop = append(drop, t)
			}
		}
		if len(drop) == 0 {
			s.failJob(j, 530, "Failed to delete tags")
			return
		}
		for _, t := range drop {
			if !st.canOperate(r.acct, t.owner) {
				s.failJob(j, 531, fmt.Sprintf("Account %s does not have permission to delete tag %s of %s", r.acct.Name, t.key, t.resourceID))
				return
			}
		}
		kept := st.tags[:0]
		for _, t := range st.tags {
			if !slices.Contains(drop, t) {
				kept = append(kept, t)
			}
		}
		st.tags = kept
		st.touchIDs(ids)
		s.succeedJob(j, map[string]any{"success": true})
	})
	return map[string]string{"jobid": j.id}, nil
}

func cmdListTags(s *Server, r *request) (any, *apiError) {
	st := s.st
	sc, aerr := st.scope(r, false)
	if aerr != nil {
		return nil, aerr
	}
	var out []tagJSON
	for _, t := range st.tags {
		if !sc.sees(t.owner) || (r.has("resourceid") && t.resourceID != r.get("resourceid")) ||
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
