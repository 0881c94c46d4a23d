package ws

import "sync"

// maxQueuedCommands bounds the commands of one connection waiting to be
// handled; past it the reader stops reading (the client's sends wait in
// TCP), as it did when it handled each command itself.
const maxQueuedCommands = 16

// runner handles one connection's commands, in order, on a goroutine that
// exists only while commands wait. The reader goroutine — the one every
// idle connection keeps — then never runs command handling (decoding,
// node, the store), whose deep stacks it would keep for the connection's
// life: an idle connection's goroutine stays at the smallest stack.
type runner struct {
	handle func(p []byte)

	mu      sync.Mutex
	queue   [][]byte
	running bool
	space   chan struct{} // closed when a command is taken from a full queue
	wg      sync.WaitGroup
}

// add queues a copy of p, waiting while the queue is full.
func (r *runner) add(p []byte) {
	p = append([]byte(nil), p...) // p is the reader's buffer
	r.mu.Lock()
	for len(r.queue) >= maxQueuedCommands {
		if r.space == nil {
			r.space = make(chan struct{})
		}
		space := r.space
		r.mu.Unlock()
		<-space // the running goroutine takes one, and closes it
		r.mu.Lock()
	}
	r.queue = append(r.queue, p)
	if !r.running {
		r.running = true
		r.wg.Add(1)
		go r.run()
	}
	r.mu.Unlock()
}

func (r *runner) run() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.running, r.queue = false, nil
			r.mu.Unlock()
			return
		}
		p := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		if r.space != nil {
			close(r.space)
			r.space = nil
		}
		r.mu.Unlock()
		r.handle(p)
	}
}

// wait returns once every queued command was handled.
func (r *runner) wait() { r.wg.Wait() }
