package cassandra

import (
	"testing"

	"github.com/quiremail/quire/internal/store"
)

// TestHeadCacheWatermarkNotAboveHead: a reader's head, read before this
// host committed and materialized more, keeps a watermark no higher than
// its own head. Above it, a snapshot would read the state rows only up to
// the old head's UIDNEXT and the log only above the new watermark, and
// miss the messages in between (storetest's ScanWhileAppending caught
// this under load: a scan from UID 110 gave 111 without 110).
func TestHeadCacheWatermarkNotAboveHead(t *testing.T) {
	var c headCache
	c.init(10)
	c.put("mb", bucketState{bucket: 3, head: store.Head{UIDNext: 112, ModSeq: 111}, mat: 111})
	stale := c.put("mb", bucketState{bucket: 3, head: store.Head{UIDNext: 110, ModSeq: 109}, mat: 100})
	if stale.mat != 109 {
		t.Fatalf("a stale head at MODSEQ 109 got watermark %d, want 109 (raised to what is known, not past its head)", stale.mat)
	}
	if got, _ := c.get("mb"); got.head.ModSeq != 111 || got.mat != 111 {
		t.Fatalf("the cache went back to %+v", got)
	}
	fresh := c.put("mb", bucketState{bucket: 3, head: store.Head{UIDNext: 112, ModSeq: 111}, mat: 105})
	if fresh.mat != 111 {
		t.Fatalf("a current head got watermark %d, want the known 111", fresh.mat)
	}
}
