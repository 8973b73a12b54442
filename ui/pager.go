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
// The store pages by cursor, so reaching page k needs the cursor that ends
// page k-1: cursors are remembered (a few bytes each) and a jump forward
// walks from the nearest known one.
type idmapPager struct {
	svc      *admin.Service
	filter   admin.IdmapFilter
	total    int
	ctx      context.Context
	onLoaded func()

	mu      sync.Mutex
	cache   *pageCache
	cursors []string // cursors[k] is the After of page k; cursors[0] = ""
	wanted  map[int]bool
	latest  int // the page the table asked for last
	err     error
	load    sync.Mutex // one walk at a time
}

func newIdmapPager(ctx context.Context, svc *admin.Service, f admin.IdmapFilter, total int, onLoaded func()) *idmapPager {
	return &idmapPager{svc: svc, filter: f, total: total, ctx: ctx, onLoaded: onLoaded,
		cache: newPageCache(idmapCachePage), cursors: []string{""}, wanted: map[int]bool{}}
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

// fetch loads page (and learns the cursors before it) off the UI goroutine.
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
	if _, ok := p.cache.get(page); ok {
		p.mu.Unlock()
		return
	}
	k := min(page, len(p.cursors)-1)
	after := p.cursors[k]
	p.mu.Unlock()
	for ; k <= page; k++ {
		// Stop a long walk the table no longer needs (the user scrolled
		// elsewhere); the cursors learned so far are kept.
		p.mu.Lock()
		moved := p.latest-page > idmapCachePage || page-p.latest > idmapCachePage
		p.mu.Unlock()
		if p.ctx.Err() != nil || moved {
			return
		}
		rows, next, err := p.svc.QueryConnected(p.filter, after, idmapPageSize)
		p.mu.Lock()
		if err != nil {
			p.err = err
			p.mu.Unlock()
			return
		}
		if k == len(p.cursors)-1 {
			p.cursors = append(p.cursors, next)
		}
		if k == page || k >= page-1 {
			p.cache.put(k, rows)
		}
		p.mu.Unlock()
		if next == "" {
			return
		}
		after = next
	}
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
