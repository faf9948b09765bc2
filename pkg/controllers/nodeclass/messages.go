package nodeclass

import (
	"fmt"
	"unicode/utf8"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// maxConditionMessage bounds each condition's message. Messages quote what users wrote (selector terms, names,
// tags), and the apiserver refuses a whole status patch when one message exceeds 32768 bytes, leaving the NodeClass
// with no status at all. Ready joins its failing dependents' messages, so each must stay well below that.
const maxConditionMessage = 4096

// maxEventMessage keeps events short: they repeat what the conditions say.
const maxEventMessage = 1024

// truncateMessage cuts s to at most n bytes on a rune boundary, saying how much was left out.
func truncateMessage(s string, n int) string {
	if len(s) <= n {
		return s
	}
	suffix := fmt.Sprintf(" ... (%d more bytes)", len(s)-n)
	cut := max(n-len(suffix), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + suffix
}

// boundConditionMessages truncates every condition message of the NodeClass in place.
func boundConditionMessages(nodeClass *v1.CloudStackNodeClass) {
	for i := range nodeClass.Status.Conditions {
		nodeClass.Status.Conditions[i].Message = truncateMessage(nodeClass.Status.Conditions[i].Message, maxConditionMessage)
	}
}
