package ui

import (
	"container/list"
	"context"
	"sync"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// Identity-map paging: the table asks for rows by index; rows come from
// the store one page at a time and only a few pages stay in memory, so the
// GUI's memory does not grow with the map.
const (
	idmapPageSize  = 100
	idmapCachePage = 24 // pages kept: 2,400 rows at most
)

// pageCache is a small LRU of identity-map pages by page number.
type pageCache struct {
	max   int
	order *list.List // front = most recently used; values are page numbers
	pages map[int]*list.Element
	rows  map[int][]store.ConnectedObject
}

func newPageCache(max int) *pageCache {
	return &pageCache{max: max, order: list.New(), pages: map[int]*list.Element{}, rows: map[int][]store.ConnectedObject{}}
}

func (c *pageCache) get(page int) ([]store.ConnectedObject, bool) {
	el, ok := c.pages[page]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return c.rows[page], true
}

func (c *pageCache) put(page int, rows []store.ConnectedObject) {
	if el, ok := c.pages[page]; ok {
		c.order.MoveToFront(el)
		c.rows[page] = rows
		return
	}
	c.pages[page] = c.order.PushFront(page)
	c.rows[page] = rows
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		n := old.Value.(int)
		delete(c.pages, n)
		delete(c.rows, n)
	}
}

func (c *pageCache) len() int { return c.order.Len() }

// idmapPager is a rowSource over one identity-map query. Rows are fetched
// off the UI goroutine; onLoaded runs (through fyne.Do) when a page lands.
//
// Page k is fetched as "skip k*pageSize rows, then read a page": the store
// skips on index keys alone, so a jump of the scrollbar to row 500,000
// reads one page of rows, not the 5,000 pages before it, and the process
// does not map the rows it jumped over. The cursor at every
// idmapCheckpoint-th page is kept, so that the next page (scrolling on)
// skips at most a few hundred keys from the nearest one rather than
// everything from the top. That is one short string per 800 rows visited.
type idmapPager struct {
	svc      admin.API
	filter   admin.IdmapFilter
	total    int
	ctx      context.Context
	onLoaded func()

	mu     sync.Mutex
	cache  *pageCache
	marks  map[int]string // marks[k] is the After of page k, for k a multiple of idmapCheckpoint
	wanted map[int]bool
	latest int // the page the table asked for last
	err    error
	load   sync.Mutex // one fetch at a time
}

const (
	// idmapCheckpoint is how many pages apart the pager keeps cursors.
	idmapCheckpoint = 8
	// idmapFarJump is how many pages past the nearest checkpoint a fetch
	// starts from the top instead.
	idmapFarJump = 8 * idmapCheckpoint
	// idmapStale is how far (in pages) from the page the table asked for
	// last a queued fetch is dropped: a scrollbar drag passes many
	// positions, and only the one it stops at is worth reading.
	idmapStale = 4
)

func newIdmapPager(ctx context.Context, svc admin.API, f admin.IdmapFilter, total int, onLoaded func()) *idmapPager {
	return &idmapPager{svc: svc, filter: f, total: total, ctx: ctx, onLoaded: onLoaded,
		cache: newPageCache(idmapCachePage), marks: map[int]string{0: ""}, wanted: map[int]bool{}}
}

func (p *idmapPager) Len() int { return p.total }

// Row returns row i when its page is cached, else asks for the page.
func (p *idmapPager) Row(i int) (store.ConnectedObject, bool) {
	if i < 0 || i >= p.total {
		return store.ConnectedObject{}, false
	}
	page, off := i/idmapPageSize, i%idmapPageSize
	p.mu.Lock()
	rows, ok := p.cache.get(page)
	if !ok {
		p.latest = page
		if !p.wanted[page] {
			p.wanted[page] = true
			go p.fetch(page)
		}
	}
	p.mu.Unlock()
	if !ok || off >= len(rows) {
		return store.ConnectedObject{}, false
	}
	return rows[off], true
}

// fetch loads page off the UI goroutine, from the nearest checkpoint at or
// before it.
func (p *idmapPager) fetch(page int) {
	p.load.Lock()
	defer p.load.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.wanted, page)
		p.mu.Unlock()
		if p.onLoaded != nil && p.ctx.Err() == nil {
			uiDo(p.onLoaded)
		}
	}()
	p.mu.Lock()
	_, cached := p.cache.get(page)
	// Fetches queue behind one another; skip a page the table scrolled
	// away from while this one waited (it asks again if it comes back).
	moved := p.latest-page > idmapStale || page-p.latest > idmapStale
	base := page - page%idmapCheckpoint
	for ; base > 0; base -= idmapCheckpoint {
		if _, ok := p.marks[base]; ok {
			break
		}
	}
	if page-base > idmapFarJump {
		// A long jump starts from the top: on the tenant/entity index the
		// store passes whole tenant+entity stretches by their counters, so
		// it reads only the keys of the stretch it lands in, where from a
		// checkpoint it would also read the rest of the checkpoint's.
		base = 0
	}
	after := p.marks[base]
	p.mu.Unlock()
	if cached || moved || p.ctx.Err() != nil {
		return
	}
	// A jump first lays down the checkpoint of its own stretch, so the
	// pages around it start from there, not from the top.
	if mark := page - page%idmapCheckpoint; mark > base {
		next, skipped, err := p.svc.SkipConnected(p.filter, after, (mark-base)*idmapPageSize)
		if err != nil {
			p.fail(err)
			return
		}
		if skipped < (mark-base)*idmapPageSize {
			p.mu.Lock()
			p.cache.put(page, nil) // past the end: rows were deleted since the count
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		p.marks[mark] = next
		p.mu.Unlock()
		base, after = mark, next
	}
	rows, next, err := p.svc.QueryConnectedAt(p.filter, after, (page-base)*idmapPageSize, idmapPageSize)
	if err != nil {
		p.fail(err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cache.put(page, rows)
	if next != "" && (page+1)%idmapCheckpoint == 0 {
		p.marks[page+1] = next
	}
}

func (p *idmapPager) fail(err error) {
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
}

// cachedRows is how many rows the pager holds (for tests and the memory claim).
func (p *idmapPager) cachedRows() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, rows := range p.cache.rows {
		n += len(rows)
	}
	return n
}
