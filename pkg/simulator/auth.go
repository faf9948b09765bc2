package simulator

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"sort"
	"strings"
	"time"
)

// authenticate verifies the request the way ApiServer.verifyRequest does and returns the calling account,
// or nil for any failure (all of which the real server reports as the same 401).
func (s *Server) authenticate(r *request) *account {
	sig := r.get("signature")
	key := r.get("apiKey")
	if sig == "" || key == "" || r.command == "" {
		return nil
	}
	acct := s.st.byKey[key]
	if acct == nil {
		return nil
	}
	// signatureversion=3 makes expires mandatory and rejects requests past it.
	if r.get("signatureversion") == "3" {
		exp, ok := parseExpires(r.get("expires"))
		if !ok || !exp.After(r.now) {
			return nil
		}
	}
	want := sign(r.params, acct.SecretKey)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return nil
	}
	return acct
}

// sign computes the signature over every parameter but `signature`: names sorted case-sensitively, values
// encoded as Java's URLEncoder does (with + turned into %20), joined with &, lower-cased, HMAC-SHA1, base64.
func sign(params map[string][]string, secret string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		if k != "signature" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		if vs := params[k]; len(vs) > 0 {
			b.WriteString(javaURLEncode(vs[0]))
		}
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(strings.ToLower(b.String())))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// javaURLEncode is java.net.URLEncoder.encode(v, "UTF-8") followed by replacing + with %20. Unlike Go's
// url.QueryEscape it escapes '~', which is why a `~` in a value signed by the SDK fails on a real server.
func javaURLEncode(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(v) + 8)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '*', c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteString("%20")
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// parseExpires accepts the forms DateUtil.parseTZDateString accepts: ISO 8601 with Z or a numeric offset.
func parseExpires(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.000-0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
