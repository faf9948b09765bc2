package cloudstack

import (
	"errors"
	"net/url"
	"regexp"
)

// signedParam matches the parameters of a signed request that must never be shown: the API key names the account
// and the signature authorises the request until it expires (15 minutes).
var signedParam = regexp.MustCompile(`(?i)((?:apikey|signature|secretkey|sessionkey)=)[^&\s"']*`)

// redact removes credentials from an SDK error, once, before anything else sees it. For a GET the SDK puts the signed
// query string in the URL, and a transport failure (refused connection, timeout, TLS error) comes back as a
// *url.Error whose message carries that URL: it would reach logs, Kubernetes events and NodeClass status. The URL is
// cut to scheme, host and path, plus the command for context; the cause (for example a timeout) stays unwrappable.
func redact(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: ue.Err}
	}
	if msg := err.Error(); signedParam.MatchString(msg) {
		return errors.New(signedParam.ReplaceAllString(msg, "${1}REDACTED"))
	}
	return err
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return signedParam.ReplaceAllString(raw, "${1}REDACTED")
	}
	command := u.Query().Get("command")
	u.RawQuery, u.Fragment, u.User = "", "", nil
	if command != "" {
		u.RawQuery = "command=" + url.QueryEscape(command)
	}
	return u.String()
}
