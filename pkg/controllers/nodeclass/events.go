package nodeclass

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/karpenter/pkg/events"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// Event reasons this controller emits besides the reasons of its False conditions.
const (
	EventReasonResolutionFailed              = "ResolutionFailed"
	EventReasonWaitingOnNodeClaimTermination = "WaitingOnNodeClaimTermination"
)

// maxNamesInEvent keeps events readable on large clusters; the count still tells the whole story.
const maxNamesInEvent = 10

func conditionFalseEvent(nodeClass *v1.CloudStackNodeClass, conditionType, reason, message string) events.Event {
	return events.Event{
		InvolvedObject: nodeClass,
		Type:           corev1.EventTypeWarning,
		Reason:         reason,
		Message:        truncateMessage(fmt.Sprintf("%s is False: %s", conditionType, message), maxEventMessage),
		DedupeValues:   []string{string(nodeClass.UID), conditionType, message},
	}
}

func resolutionFailedEvent(nodeClass *v1.CloudStackNodeClass, err error) events.Event {
	return events.Event{
		InvolvedObject: nodeClass,
		Type:           corev1.EventTypeWarning,
		Reason:         EventReasonResolutionFailed,
		Message:        truncateMessage(err.Error(), maxEventMessage),
		DedupeValues:   []string{string(nodeClass.UID), truncateMessage(err.Error(), maxEventMessage)},
	}
}

func waitingOnNodeClaimsEvent(nodeClass *v1.CloudStackNodeClass, names []string) events.Event {
	shown := names
	suffix := ""
	if len(names) > maxNamesInEvent {
		shown = names[:maxNamesInEvent]
		suffix = fmt.Sprintf(" and %d more", len(names)-maxNamesInEvent)
	}
	return events.Event{
		InvolvedObject: nodeClass,
		Type:           corev1.EventTypeWarning,
		Reason:         EventReasonWaitingOnNodeClaimTermination,
		Message: fmt.Sprintf("deletion waits for %d NodeClaim(s) that use this NodeClass: %s%s",
			len(names), strings.Join(shown, ", "), suffix),
		DedupeValues: append([]string{string(nodeClass.UID)}, names...),
	}
}
