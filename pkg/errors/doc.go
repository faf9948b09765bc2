// Package errors is the one place that reads CloudStack SDK error strings. The SDK reports HTTP errors and failed
// async jobs only as formatted strings (its CSError type does not implement error), so Parse turns them into an
// *APIError once, in the client layer, and every other package classifies with the Is* helpers and errors.As.
//
// Import it as cserrors.
package errors
