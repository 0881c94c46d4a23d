package wsconn

// The poller's goroutine lives as long as the process: start it before
// any test counts goroutines.
func init() { thePoller() }
