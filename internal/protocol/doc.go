// Package protocol is Parley's native wire format: JSON text frames, one
// object per frame, commands from clients and events and replies to them
// (specified in docs/PROTOCOL.md). It converts between frames and the domain
// types of package parley and does no I/O.
//
// Decode is called with untrusted input and must never panic; it returns
// *parley.Error values with the codes EBadJSON, EUnknownType, EMissingField
// and EInvalid. The encoders are called once per event and wire format, not
// once per recipient: their result is shared by every connection it is
// queued on and must not be modified.
package protocol
