// Package sshkeypair checks that the SSH key pair a NodeClass names exists, from one cached listing.
package sshkeypair
