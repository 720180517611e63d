package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amojwt/amojwt/noncestore"
	"github.com/redis/go-redis/v9"
)

// redisRounds is how many rounds (pipelines) a store keeps in flight at
// most: while one waits for Redis, the sender of the other reads its
// replies, wakes its callers and hands the queue on, so Redis is not left
// idle meanwhile.
const redisRounds = 2

// redisSlot holds what one round in flight uses; a round and its slot pass
// from sender to sender together (see next), so only one goroutine at a
// time uses a slot.
type redisSlot struct {
	pipe      redis.Pipeliner // reused by every round in the slot
	lone      redisClaim      // the claim of a round of one, sent by its own caller
	loneBatch [1]*redisClaim  // &lone, as a batch
	ctx       roundCtx        // the context of the slot's round (see exchange)
}

// redisMaxPending bounds the claims waiting for a pipeline. When Redis
// stalls, claims give up at their deadline anyway; the bound keeps a burst
// from piling up memory meanwhile (extra claims fail closed at once).
const redisMaxPending = 4096

// redisClaim is one Claim on its way through the batcher. The round that
// sends it sets epoch and err; a queued caller reads them once signalled on
// done, and may have left before that (timeout).
//
// Queued claims come from redisClaims and go back once their caller has
// taken its signal; a claim whose caller left early is left to the garbage
// collector. A claim signalled before the rest of its batch (out of time in
// send) may be reused while its pointer is still in that batch's slice: a
// sender never touches a claim after signalling it, and must not start to.
type redisClaim struct {
	key      string
	value    string // unique per claim: tells our own earlier write from a replay
	until    time.Time
	deadline time.Time
	values   context.Context // the caller's context, for its values only
	done     chan struct{}   // capacity 1: one signal per use, answer ready or lead (nil for the lone claim)
	timer    *time.Timer     // the caller's deadline while queued; stopped between uses
	state    atomic.Int32    // redisWaiting, redisAbandoned or redisLeading
	lead     []*redisClaim   // set with redisLeading: the batch this caller must send
	slot     *redisSlot      // set with redisLeading: the slot to send it in

	set   *redis.StatusCmd // the claim's SET NX, once sent
	get   *redis.StringCmd // the GET of a key that SET found held
	fail  error            // a failure that overrides a good reply (WAIT short, no node)
	epoch time.Time
	err   error
}

// redisClaims recycles queued claims with their channel and timer: under
// load most claims queue, and these three allocations were a third of a
// claim's garbage.
var redisClaims = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &redisClaim{done: make(chan struct{}, 1), timer: t}
}}

// newQueuedClaim returns a claim, fresh or recycled, ready to be queued.
func newQueuedClaim(ctx context.Context, key, value string, until, deadline time.Time) *redisClaim {
	c := redisClaims.Get().(*redisClaim)
	c.key, c.value, c.until, c.deadline, c.values = key, value, until, deadline, ctx
	c.state.Store(redisWaiting)
	return c
}

// release returns c to redisClaims. Its caller must have taken its one
// signal, and c must be in no batch (see wait).
func (c *redisClaim) release() {
	c.key, c.value, c.values = "", "", nil
	c.until, c.deadline, c.epoch = time.Time{}, time.Time{}, time.Time{}
	c.lead, c.slot, c.set, c.get, c.fail, c.err = nil, nil, nil, nil, nil, nil
	redisClaims.Put(c)
}

// States of a queued claim's caller.
const (
	redisWaiting   int32 = iota // waiting for its answer
	redisAbandoned              // gone: deadline or context ended
	redisLeading                // chosen to send the batch in lead
)

// claim sends a claim of key with value, alone or with others, and returns
// its answer.
//
// Batching: at most redisRounds rounds are in flight per store, each in a
// slot of its own. A claim that finds a slot free is sent at once, from
// its caller's goroutine, as the slot's lone claim (no timer, no handoff,
// no allocation by the batcher: it costs what its go-redis commands cost). Claims that
// find none free queue up. When a round returns, its sender first makes
// one of the queued callers the sender of the whole queue, in the same
// slot, so the next pipeline is on the wire while the sender wakes the
// callers of the round it sent. No goroutine outlives its call.
//
// A caller that sends a pipeline can only return at its deadline if the
// client gives up at context deadlines (ContextTimeoutEnabled). For a
// client that does not, or that New cannot inspect, pipelines are sent
// from goroutines (one per slot, living while claims keep coming) and
// every caller waits for its answer with its own timer.
func (r *Store) claim(ctx context.Context, key, value string, until, deadline time.Time) (time.Time, error) {
	r.mu.Lock()
	if n := len(r.free); n > 0 {
		s := r.free[n-1]
		r.free = r.free[:n-1]
		r.mu.Unlock()
		if !r.async {
			return r.claimAlone(ctx, s, key, value, until, deadline)
		}
		c := newQueuedClaim(ctx, key, value, until, deadline)
		go r.run(s, []*redisClaim{c})
		return r.wait(ctx, c)
	}
	if len(r.pending) >= redisMaxPending {
		r.mu.Unlock()
		return time.Time{}, fmt.Errorf("%w: redis: %d claims already waiting", noncestore.ErrUnavailable, redisMaxPending)
	}
	c := newQueuedClaim(ctx, key, value, until, deadline)
	if r.pending == nil {
		r.pending, r.spare = r.spare, nil
	}
	r.pending = append(r.pending, c)
	r.mu.Unlock()
	return r.wait(ctx, c)
}

// claimAlone sends a claim as the lone claim of slot s, which the caller
// has taken, then passes s on.
func (r *Store) claimAlone(ctx context.Context, s *redisSlot, key, value string, until, deadline time.Time) (time.Time, error) {
	c := &s.lone
	c.key, c.value, c.until, c.deadline, c.values = key, value, until, deadline, ctx
	r.exchange(s, s.loneBatch[:], c)
	epoch, err := c.epoch, c.err
	*c = redisClaim{} // before next: the slot's next holder may use lone at once
	r.next(s)         // not async: s is freed or handed to a queued caller, never returned
	return epoch, err
}

// wait waits for a queued claim's answer, or to be made the sender of the
// queue, until its deadline or the end of ctx.
func (r *Store) wait(ctx context.Context, c *redisClaim) (time.Time, error) {
	c.timer.Reset(time.Until(c.deadline))
	var err error
	select {
	case <-c.done:
	case <-ctx.Done():
		err = redisUnavailable(context.Cause(ctx))
	case <-c.timer.C:
		err = r.timeoutErr()
	}
	c.timer.Stop()
	if err != nil {
		if c.state.CompareAndSwap(redisWaiting, redisAbandoned) {
			return time.Time{}, err // c may still be in a batch: not released
		}
		<-c.done // chosen to lead at the last moment: the slot must be passed on
	}
	if c.lead != nil {
		// The batch includes c and ends no later than c's deadline (see
		// pass), so this returns in time.
		r.run(c.slot, c.lead)
	}
	// Signalled, c is done with: the sender touches no claim after its
	// signal (see redisClaim), and clears the batch's slice before reusing it.
	epoch, cerr := c.epoch, c.err
	c.release()
	if err != nil {
		return time.Time{}, err
	}
	return epoch, cerr
}

// run sends batch in slot s and passes s on, then wakes the callers of
// batch; async, it goes on to send the claims queued meanwhile itself.
func (r *Store) run(s *redisSlot, batch []*redisClaim) {
	for batch != nil {
		live := r.send(s, batch)
		next := r.next(s)
		for _, c := range live {
			r.wake(c)
		}
		r.recycle(batch)
		batch = next
	}
}

// next passes slot s on once its round is done: to the claims queued
// meanwhile, as their round, or back to the free slots if none are. It
// returns nil when the caller is done with s: free, or a queued caller now
// leads the batch in it (see pass). Async, it returns the batch for the
// caller to send.
func (r *Store) next(s *redisSlot) []*redisClaim {
	for {
		r.mu.Lock()
		batch := r.pending
		r.pending = nil
		if len(batch) == 0 {
			r.free = append(r.free, s)
			r.mu.Unlock()
			return nil
		}
		r.mu.Unlock()
		if r.async {
			return batch
		}
		if r.pass(s, batch) {
			return nil
		}
		r.recycle(batch) // every caller in it has left: nothing to send
	}
}

// recycle keeps a sent batch's slice for the next queue, so that a steady
// stream of claims queues up without growing a new slice each round.
func (r *Store) recycle(batch []*redisClaim) {
	clear(batch)
	r.mu.Lock()
	if r.spare == nil && cap(batch) > 1 {
		r.spare = batch[:0]
	}
	r.mu.Unlock()
}

// pass makes the queued caller with the latest deadline the sender of
// batch in slot s, and reports false if every caller in it has already
// left. Choosing the latest deadline bounds the whole pipeline by the
// sender's own deadline.
func (r *Store) pass(s *redisSlot, batch []*redisClaim) bool {
	for {
		var lead *redisClaim
		for _, c := range batch {
			if c.state.Load() == redisWaiting && (lead == nil || c.deadline.After(lead.deadline)) {
				lead = c
			}
		}
		if lead == nil {
			return false
		}
		if lead.state.CompareAndSwap(redisWaiting, redisLeading) {
			lead.lead, lead.slot = batch, s
			lead.done <- struct{}{}
			return true
		}
	}
}

// redisRound is what one batch sends besides the claims' SETs.
type redisRound struct {
	epochMs   int64            // the epoch if this round creates the marker (set by check)
	marker    *redis.StringCmd // GET marker (reset guard on)
	markerSet *redis.StatusCmd // SET marker NX GET, when GET found none
}

// send runs one batch of queued claims, in one round trip, or two when a
// key was held or the marker missing (see check). It returns the claims it
// sent, with their answers set but their callers not yet woken (see wake).
func (r *Store) send(s *redisSlot, batch []*redisClaim) []*redisClaim {
	// Claims whose caller has left are not sent: writing a nonce for a
	// request that got a 503 would only make its retry "replayed". Claims
	// out of time are answered so, in case their caller is still there.
	now := time.Now()
	live := batch[:0]
	var last *redisClaim
	for _, c := range batch {
		switch {
		case c.state.Load() == redisAbandoned:
		case !now.Before(c.deadline):
			c.err = r.timeoutErr()
			r.wake(c)
		default:
			live = append(live, c)
			if last == nil || c.deadline.After(last.deadline) {
				last = c
			}
		}
	}
	if len(live) > 0 {
		r.exchange(s, live, last)
	}
	return live
}

// exchange sends claims, whose callers are all still waiting, in the round
// trips that send describes, through slot s's pipeline, and sets each one's
// answer. The round ends at lead's deadline at the latest, the latest of
// the claims', and carries the values of lead's context: go-redis hooks
// (tracing, metrics) see the context of the caller whose deadline bounds
// the round, which for a lone claim is its own caller's.
func (r *Store) exchange(s *redisSlot, claims []*redisClaim, lead *redisClaim) {
	s.ctx = roundCtx{redisDeadline: r.deadlineCtx(lead.deadline), values: lead.values}
	ctx := &s.ctx
	var round redisRound
	switch {
	case len(claims) == 1 && !r.guard && r.waitReplicas == 0:
		// A lone SET goes as a plain command: a pipeline of one costs more.
		claims[0].sendSet(ctx, r.client)
	case r.cluster == nil || r.waitReplicas == 0:
		// The usual case: one pipeline, which a Cluster client splits by
		// node and sends to all of them at once.
		r.pipeline(ctx, s.pipe, claims, &round)
	default:
		// Cluster with WAIT: WAIT counts the replicas of the connection it
		// runs on, so each master gets its claims and its WAIT in a
		// pipeline of its own, and the marker goes alone.
		groups := make(map[*redis.Client][]*redisClaim)
		for _, c := range claims {
			m, err := r.cluster.MasterForKey(ctx, c.key)
			if err != nil {
				c.fail = redisUnavailable(err)
				continue
			}
			groups[m] = append(groups[m], c)
		}
		var wg sync.WaitGroup
		for m, claims := range groups {
			wg.Go(func() { r.pipeline(ctx, m.Pipeline(), claims, nil) })
		}
		if r.guard {
			round.marker = r.client.Get(ctx, r.marker)
		}
		wg.Wait()
	}
	r.check(ctx, claims, &round)

	epoch, epochErr := r.epoch(&round)
	for _, c := range claims {
		c.epoch, c.err = epoch, r.result(c, epochErr)
	}
	s.ctx = roundCtx{} // keeps no caller's context alive
}

// pipeline sends, in one round trip through p, the claims' SETs, then
// (when round is not nil and the guard is on) GET marker, then (when
// configured) WAIT. It sets each claim's set, and its fail when WAIT falls
// short.
//
// The marker is read after the claims are written, so a loss of data
// before a claim was written is always seen by the marker.
func (r *Store) pipeline(ctx context.Context, p redis.Pipeliner, claims []*redisClaim, round *redisRound) {
	for _, c := range claims {
		c.sendSet(ctx, p)
	}
	if round != nil && r.guard {
		round.marker = p.Get(ctx, r.marker)
	}
	var wait *redis.IntCmd
	if r.waitReplicas > 0 {
		wait = redis.NewIntCmd(ctx, "wait", r.waitReplicas, r.waitTimeout.Milliseconds())
		_ = p.Process(ctx, wait) // queues it; the pipeline has no error to give yet
	}
	// Every command carries its own reply or error; Exec's summary adds
	// nothing (it reports redis.Nil, a normal reply here, as an error).
	_, _ = p.Exec(ctx)
	if wait == nil {
		return
	}
	var fail error
	switch n, err := wait.Result(); {
	case err != nil:
		fail = redisUnavailable(err)
	case n < int64(r.waitReplicas):
		fail = fmt.Errorf("%w: redis: WAIT: %d of %d replicas acknowledged within %v",
			noncestore.ErrUnavailable, n, r.waitReplicas, r.waitTimeout)
	}
	for _, c := range claims {
		c.fail = fail
	}
}

// sendSet sends, or queues on a pipeline, the claim's SET key value PXAT
// until NX, with a value unique to the claim: OK means the pair was free
// and is now held. (The command is built here rather than by SetArgs,
// which grows its argument slice once per call.)
func (c *redisClaim) sendSet(ctx context.Context, client redisProcessor) {
	c.set = redis.NewStatusCmd(ctx, "set", c.key, c.value, "pxat", c.until.UnixMilli(), "nx")
	_ = client.Process(ctx, c.set) // the reply or error is c.set's
}

// redisProcessor runs or queues a command: a client or a pipeline.
type redisProcessor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// check sends the second round trip that two rare cases need, both in one
// pipeline: reading back the keys that SET NX found held, and creating the
// marker when GET found none.
//
// A held key is either a replay or the claim's own write. go-redis retries
// a round trip whose connection broke, and the first try may have been
// executed with only its reply lost: the retried SET NX then finds the key
// that the same claim wrote. The value, unique to the claim, tells: our own
// means the claim succeeded (SPEC §5: a retried call must not turn a
// success into "replayed"); any other value, or none (the holder's key has
// just expired), is a replay. So go-redis may keep its retries, and the
// store rides out a dropped connection.
//
// A missing marker means a new epoch (SPEC §5): SET marker now NX GET
// creates it, or returns the epoch that another process created a moment
// before. Retrying it is harmless too.
//
// (SET key value NX GET would settle a held key in the first round trip,
// but its reply to a successful claim is a nil, which go-redis handles as
// an error, at a cost of about a tenth of a claim's time.)
func (r *Store) check(ctx context.Context, claims []*redisClaim, round *redisRound) {
	var p redis.Pipeliner
	for _, c := range claims {
		if c.set != nil && c.set.Err() == redis.Nil {
			if p == nil {
				p = r.client.Pipeline()
			}
			c.get = p.Get(ctx, c.key)
		}
	}
	if round.marker != nil && round.marker.Err() == redis.Nil {
		if p == nil {
			p = r.client.Pipeline()
		}
		// The new epoch is dated now, after the reply that found the marker
		// gone: the round's start may precede the loss (a retry of the GET
		// can reach the restarted Redis), and an epoch dated too early
		// would let through a token used between it and the loss.
		round.epochMs = time.Now().UnixMilli()
		round.markerSet = p.SetArgs(ctx, r.marker, round.epochMs, redis.SetArgs{Mode: "NX", Get: true})
	}
	if p != nil {
		_, _ = p.Exec(ctx)
	}
}

// epoch reads the reset guard's epoch: the marker's value, or epochMs when
// this round created the marker. It returns the zero time when the guard is
// off.
func (r *Store) epoch(round *redisRound) (time.Time, error) {
	var v string
	var err error
	switch {
	case round.markerSet != nil:
		v, err = round.markerSet.Result()
		if err == redis.Nil {
			return time.UnixMilli(round.epochMs), nil
		}
	case round.marker != nil:
		v, err = round.marker.Result()
	default:
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, redisUnavailable(err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, fmt.Errorf("%w: redis: reset guard key %s holds %q, not Unix milliseconds",
			noncestore.ErrUnavailable, r.marker, v)
	}
	return time.UnixMilli(ms), nil
}

// result turns a claim's replies into Claim's error.
func (r *Store) result(c *redisClaim, epochErr error) error {
	if c.set == nil { // never sent
		return c.fail
	}
	switch err := c.set.Err(); {
	case err == nil: // OK: the pair was free and is held now
	case err != redis.Nil:
		return redisUnavailable(err)
	default: // held: by whom?
		v, err := c.get.Result()
		switch {
		case err == redis.Nil:
			return noncestore.ErrReplayed
		case err != nil:
			return redisUnavailable(err)
		case v != c.value:
			return noncestore.ErrReplayed
		}
	}
	if epochErr != nil {
		return epochErr
	}
	return c.fail
}

// wake tells c's caller that its answer is ready, unless pass already woke
// it to send this batch or the caller is sending it (no done). It is the
// last the sender does with c: the caller may reuse c at once.
func (r *Store) wake(c *redisClaim) {
	if c.done != nil && c.state.Load() != redisLeading {
		c.done <- struct{}{}
	}
}

func (r *Store) timeoutErr() error {
	return redisUnavailable(fmt.Errorf("no answer within %v: %w", r.timeout, context.DeadlineExceeded))
}

// redisDeadlineGrain is the granularity of the deadlines of pipelines:
// those that end in the same millisecond share one context.
const redisDeadlineGrain = time.Millisecond

// deadlineCtx returns a context that ends at d, rounded down to
// redisDeadlineGrain. A context with a deadline costs a timer and a few
// allocations, a tenth of a lone claim's client time; pipelines sent one
// after another mostly share one.
func (r *Store) deadlineCtx(d time.Time) *redisDeadline {
	d = d.Truncate(redisDeadlineGrain)
	if cur := r.deadline.Load(); cur != nil && cur.at.Equal(d) {
		return cur
	}
	ctx := &redisDeadline{at: d, done: make(chan struct{})}
	time.AfterFunc(time.Until(d), func() { close(ctx.done) })
	r.deadline.Store(ctx)
	return ctx
}

// roundCtx is the context a round is sent with: a shared deadline, and the
// values of one caller's context. A caller's cancellation does not end it:
// the round carries other callers' claims.
type roundCtx struct {
	*redisDeadline
	values context.Context
}

func (c *roundCtx) Value(key any) any { return c.values.Value(key) }

// redisDeadline is a context that ends at a deadline and cannot be
// cancelled before, so that pipelines can share it.
type redisDeadline struct {
	at   time.Time
	done chan struct{}
}

func (d *redisDeadline) Deadline() (time.Time, bool) { return d.at, true }
func (d *redisDeadline) Done() <-chan struct{}       { return d.done }
func (d *redisDeadline) Value(any) any               { return nil }

func (d *redisDeadline) Err() error {
	select {
	case <-d.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
