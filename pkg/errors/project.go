package errors

import (
	"errors"
	"strings"
)

// Reasons a configured CloudStack project cannot be used. They double as the NodeClass condition reasons.
const (
	// ReasonProjectNotFound: listProjects shows no project of that name or ID to the key. CloudStack answers a
	// project the key's account is not a member of exactly like one that does not exist (an empty list), so this
	// covers both.
	ReasonProjectNotFound = "ProjectNotFound"
	// ReasonProjectAmbiguous: several projects of that name are visible (names are unique per domain only).
	ReasonProjectAmbiguous = "ProjectAmbiguous"
	// ReasonProjectNotActive: the project is Suspended or Disabled.
	ReasonProjectNotActive = "ProjectNotActive"
	// ReasonProjectAccessDenied: the server refused the projectid of a call (the account left the project, or the
	// project was deleted, after it was resolved).
	ReasonProjectAccessDenied = "ProjectAccessDenied"
)

// ProjectError says that the project the provider is configured with cannot be used. The client returns it instead
// of sending a request without the project: nothing may then happen in the account outside the project.
type ProjectError struct {
	// Reason is one of the Reason* constants above.
	Reason string
	// Message names the setting and the fix.
	Message string
	cause   error
}

// NewProjectError returns a ProjectError; cause may be nil.
func NewProjectError(reason, message string, cause error) *ProjectError {
	return &ProjectError{Reason: reason, Message: message, cause: cause}
}

func (e *ProjectError) Error() string { return e.Message }

// Unwrap returns the CloudStack error behind the ProjectError, if any.
func (e *ProjectError) Unwrap() error { return e.cause }

// projectRefusedTexts are how CloudStack refuses the projectid of a call: listings (buildACLSearchParameters: "Account
// X can't access project id=N", PermissionDeniedException, 531) and resource creation (finalizeOwner: "Account X is
// unauthorised to use project id=N"; BaseCmd.finalyzeAccountId: "Can't add resources to the project with specified
// projectId in state=S as it's no longer active", both 531).
var projectRefusedTexts = []string{"can't access project id=", "is unauthorised to use project id=", "can't add resources to the project"}

// AsProjectError returns the ProjectError in err, or turns CloudStack's refusal of a projectid (531 as above, or 431
// for a projectid that no longer exists) into one; ok is false for every other error.
func AsProjectError(err error) (*ProjectError, bool) {
	var pe *ProjectError
	if errors.As(err, &pe) {
		return pe, true
	}
	e, ok := asAPIError(err)
	if !ok {
		return nil, false
	}
	text := strings.ToLower(e.Text)
	refused := e.HTTPCode == CodeAccountError && containsAny(text, projectRefusedTexts) ||
		e.HTTPCode == CodeParamError && strings.Contains(text, "invalid parameter projectid value=")
	if !refused {
		return nil, false
	}
	return NewProjectError(ReasonProjectAccessDenied, e.Text, err), true
}

// IsProjectUnavailable reports whether err is, or is CloudStack's refusal of, the configured project.
func IsProjectUnavailable(err error) bool {
	_, ok := AsProjectError(err)
	return ok
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
