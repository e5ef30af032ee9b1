package cassandra

import "strings"

// statements holds every CQL statement, with keyspace names filled in.
// gocql prepares each on first use.
type statements struct {
	userInsert, userGet, userGetSerial, userUpdate, userDelete, userList string
	userClear, userFenceGet, userFenceSet                                string
	uidvGet, uidvInsert, uidvUpdate                                      string

	mboxInsert, mboxGet, mboxGetSerial, mboxList, mboxDelete     string
	mboxFenceGet, mboxFenceSet                                   string
	subInsert, subDelete, subList, subDeleteUser, uidvDeleteUser string

	headInsert, headGet, headSeal, headGone, headCommit, fenceSet                       string
	logInsert, logTail, logTailTo, logWalk, logRowSerial, watermark                     string
	curSet, curGet, bucketSet, bucketFor                                                string
	spillInsert, spillGet                                                               string
	stateAppend, stateFlags, stateExpunge, stateRange, goneRange, metaInsert, metaRange string

	blobGet, blobInsert, chunkGet, chunkInsert string

	blobTouch, blobList, blobClaimed, blobDelete, chunkDelete                string
	purgeGet, purgeMark, purgeCondemn, purgeUncondemn, purgeClear, todoBlobs string

	goneInsert, goneList, goneSet, goneDelete                                string
	leaseRenew, leaseTake, leaseGet                                          string
	dropLog, dropMsgs, dropMeta, dropSpill, dropCur, dropBuckets, dropLedger string
	trimGet, trimFloor, trimMark, trimBuckets, trimDrop, bucketAt            string
	chunkKeys, chunkAge, spillKeys, spillAge, spillDelete                    string
	expScan, expDrop, expDropMeta                                            string
	logKeys, headAge, recIDs                                                 string
	userIDs, recKeys, recAges, recDrop, uidvKeys, uidvDrop, subKeys, subDrop string

	textGet, textPut string

	queueMark, queueList, queueClear string

	ledgerInsert, ledgerGet, ledgerDelete, todoInsert, todoList, todoDelete string
}

func newStatements(meta, msg, cache string) statements {
	m := func(s string) string { return strings.ReplaceAll(s, "KS.", meta+".") }
	b := func(s string) string { return strings.ReplaceAll(s, "KS.", msg+".") }
	x := func(s string) string { return strings.ReplaceAll(s, "KS.", cache+".") }
	const head = `uidnext, head_modseq, messages, unseen, deleted, size, rows, sealed, gone, mat_modseq, fence`
	const state = `SELECT uid, modseq, flags, expunged FROM KS.msgs WHERE mailbox_id = ? AND ubucket = ? AND uid >= ? AND uid <= ?`
	return statements{
		ledgerInsert: m(`INSERT INTO KS.uncertain (mailbox_id, blob, cid, bucket, modseq, probe, uid, recorded, landed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ledgerGet:    m(`SELECT cid, bucket, modseq, probe, uid, recorded, landed FROM KS.uncertain WHERE mailbox_id = ? AND blob = ?`),
		ledgerDelete: m(`DELETE FROM KS.uncertain WHERE mailbox_id = ? AND blob = ? AND cid = ?`),
		todoInsert: m(`INSERT INTO KS.uncertain_todo (shard, mailbox_id, blob, cid, bucket, modseq, probe, uid, recorded)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		todoList:   m(`SELECT mailbox_id, blob, cid, bucket, modseq, probe, uid, recorded FROM KS.uncertain_todo WHERE shard = ? LIMIT ?`),
		todoDelete: m(`DELETE FROM KS.uncertain_todo WHERE shard = ? AND mailbox_id = ? AND blob = ? AND cid = ?`),
		queueMark:  m(`INSERT INTO KS.index_queue (grp, bucket, user_id, mailbox_id, marked) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?`),
		queueList:  m(`SELECT user_id, mailbox_id, marked FROM KS.index_queue WHERE grp = ? AND bucket = ?`),
		queueClear: m(`DELETE FROM KS.index_queue USING TIMESTAMP ? WHERE grp = ? AND bucket = ? AND user_id = ? AND mailbox_id = ?`),
		textGet:    x(`SELECT converter, text FROM KS.parts_text WHERE part_hash = ?`),
		textPut:    x(`INSERT INTO KS.parts_text (part_hash, converter, text, created) VALUES (?, ?, ?, ?)`),
		// IF NOT EXISTS cannot be combined with the fence's condition;
		// "id = null" holds for a row that does not exist. A null fence
		// is bound as nil (fenceArg).
		userInsert: m(`UPDATE KS.users SET id = ?, password_hash = ?, quota_storage = ?, quota_messages = ?, mailhost = ?, created = ?
			WHERE address = ? IF id = null AND fence = ?`),
		userGet:       m(`SELECT address, id, password_hash, quota_storage, quota_messages, mailhost, created FROM KS.users WHERE address = ?`),
		userGetSerial: m(`SELECT id, password_hash, quota_storage, quota_messages, mailhost FROM KS.users WHERE address = ?`),
		userUpdate: m(`UPDATE KS.users SET password_hash = ?, quota_storage = ?, quota_messages = ?, mailhost = ?
			WHERE address = ? IF id = ? AND fence = ?`),
		// The whole row, while its fence is null; the record's columns,
		// keeping the fence, once it is not (userWrite).
		userDelete: m(`DELETE FROM KS.users WHERE address = ? IF id = ? AND fence = ?`),
		userClear: m(`DELETE id, password_hash, quota_storage, quota_messages, mailhost, created FROM KS.users
			WHERE address = ? IF id = ? AND fence = ?`),
		userFenceGet: m(`SELECT fence FROM KS.users WHERE address = ?`),
		userFenceSet: m(`UPDATE KS.users SET fence = ? WHERE address = ? IF fence = ?`),
		userList:     m(`SELECT address, id, password_hash, quota_storage, quota_messages, mailhost, created FROM KS.users`),
		uidvGet:      m(`SELECT next FROM KS.uidvalidity WHERE user_id = ?`),
		uidvInsert:   m(`INSERT INTO KS.uidvalidity (user_id, next) VALUES (?, ?) IF NOT EXISTS`),
		uidvUpdate:   m(`UPDATE KS.uidvalidity SET next = ? WHERE user_id = ? IF next = ?`),

		// IF NOT EXISTS cannot be combined with the fence's condition;
		// "id = null" holds for a row that does not exist.
		mboxInsert: m(`UPDATE KS.mailboxes SET id = ?, uidvalidity = ?, special_use = ?, created = ?
			WHERE user_id = ? AND name = ? IF id = null AND fence = ?`),
		mboxFenceGet:   m(`SELECT fence FROM KS.mailboxes WHERE user_id = ? LIMIT 1`),
		mboxFenceSet:   m(`UPDATE KS.mailboxes SET fence = ? WHERE user_id = ? IF fence = ?`),
		mboxGet:        m(`SELECT id, uidvalidity, special_use, created FROM KS.mailboxes WHERE user_id = ? AND name = ?`),
		mboxGetSerial:  m(`SELECT id FROM KS.mailboxes WHERE user_id = ? AND name = ?`),
		mboxList:       m(`SELECT name, id, uidvalidity, special_use, created FROM KS.mailboxes WHERE user_id = ?`),
		mboxDelete:     m(`DELETE FROM KS.mailboxes WHERE user_id = ? AND name = ? IF id = ?`),
		subInsert:      m(`INSERT INTO KS.subscriptions (user_id, name) VALUES (?, ?)`),
		subDelete:      m(`DELETE FROM KS.subscriptions WHERE user_id = ? AND name = ?`),
		subList:        m(`SELECT name FROM KS.subscriptions WHERE user_id = ?`),
		subDeleteUser:  m(`DELETE FROM KS.subscriptions WHERE user_id = ?`),
		uidvDeleteUser: m(`DELETE FROM KS.uidvalidity WHERE user_id = ? IF EXISTS`),

		headInsert: m(`INSERT INTO KS.mblog (mailbox_id, bucket, uidnext, head_modseq, messages, unseen, deleted, size, rows, sealed, gone)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, false, false) IF NOT EXISTS`),
		headGet:  m(`SELECT ` + head + ` FROM KS.mblog WHERE mailbox_id = ? AND bucket = ? LIMIT 1`),
		headSeal: m(`UPDATE KS.mblog SET sealed = true WHERE mailbox_id = ? AND bucket = ? IF head_modseq = ? AND sealed = false`),
		headGone: m(`UPDATE KS.mblog SET sealed = true, gone = true WHERE mailbox_id = ? AND bucket = ? IF sealed = false`),
		headCommit: m(`UPDATE KS.mblog SET uidnext = ?, head_modseq = ?, messages = ?, unseen = ?, deleted = ?, size = ?, rows = ?
			WHERE mailbox_id = ? AND bucket = ? IF head_modseq = ? AND sealed = false AND fence = ?`),
		// A null fence (a bucket never fenced) is bound as nil: fenceArg.
		fenceSet: m(`UPDATE KS.mblog SET fence = ? WHERE mailbox_id = ? AND bucket = ? IF fence = ?`),
		logInsert: m(`INSERT INTO KS.mblog (mailbox_id, bucket, modseq, uid, kind, flags, meta, meta_id, cid)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		logTail:   m(`SELECT modseq, uid, kind, flags, meta, meta_id FROM KS.mblog WHERE mailbox_id = ? AND bucket = ? AND modseq > ?`),
		logTailTo: m(`SELECT modseq, uid, kind, flags, meta, meta_id FROM KS.mblog WHERE mailbox_id = ? AND bucket = ? AND modseq > ? AND modseq <= ?`),
		logWalk: m(`SELECT sealed, gone, modseq, uid, kind, flags, meta, meta_id FROM KS.mblog
			WHERE mailbox_id = ? AND bucket = ? AND modseq >= ?`),
		logRowSerial: m(`SELECT cid FROM KS.mblog WHERE mailbox_id = ? AND bucket = ? AND modseq = ? AND uid = ?`),
		watermark:    m(`UPDATE KS.mblog USING TIMESTAMP ? SET mat_modseq = ? WHERE mailbox_id = ? AND bucket = ?`),
		curSet:       m(`UPDATE KS.mbcur USING TIMESTAMP ? SET bucket = ? WHERE mailbox_id = ?`),
		curGet:       m(`SELECT bucket FROM KS.mbcur WHERE mailbox_id = ?`),
		bucketSet:    m(`INSERT INTO KS.mbbuckets (mailbox_id, first_modseq, bucket) VALUES (?, ?, ?)`),
		bucketFor:    m(`SELECT bucket FROM KS.mbbuckets WHERE mailbox_id = ? AND first_modseq <= ? LIMIT 1`),
		spillInsert:  m(`INSERT INTO KS.metaspill (mailbox_id, meta_id, meta) VALUES (?, ?, ?)`),
		spillGet:     m(`SELECT meta FROM KS.metaspill WHERE mailbox_id = ? AND meta_id = ?`),
		stateAppend: m(`INSERT INTO KS.msgs (mailbox_id, ubucket, uid, modseq, flags, expunged)
			VALUES (?, ?, ?, ?, ?, false) USING TIMESTAMP ?`),
		stateFlags:   m(`UPDATE KS.msgs USING TIMESTAMP ? SET modseq = ?, flags = ? WHERE mailbox_id = ? AND ubucket = ? AND uid = ?`),
		stateExpunge: m(`UPDATE KS.msgs USING TIMESTAMP ? SET modseq = ?, expunged = true WHERE mailbox_id = ? AND ubucket = ? AND uid = ?`),
		stateRange:   m(state),
		// WRITETIME(flags) is the MODSEQ of the change that set them.
		goneRange:  m(`SELECT uid, modseq, flags, WRITETIME(flags), expunged FROM KS.msgs WHERE mailbox_id = ? AND ubucket = ? AND uid >= ? AND uid <= ?`),
		metaInsert: m(`INSERT INTO KS.msgmeta (mailbox_id, ubucket, uid, meta) VALUES (?, ?, ?, ?)`),
		metaRange:  m(`SELECT uid, meta FROM KS.msgmeta WHERE mailbox_id = ? AND ubucket = ? AND uid >= ? AND uid <= ?`),

		blobGet:     b(`SELECT size, chunk_size, chunks, compression FROM KS.blobs WHERE blob_id = ?`),
		blobInsert:  b(`INSERT INTO KS.blobs (blob_id, size, chunk_size, chunks, compression, created) VALUES (?, ?, ?, ?, ?, ?)`),
		chunkGet:    b(`SELECT data FROM KS.blob_chunks WHERE blob_id = ? AND chunk = ?`),
		chunkInsert: b(`INSERT INTO KS.blob_chunks (blob_id, chunk, data) VALUES (?, ?, ?)`),

		blobTouch:      b(`UPDATE KS.blobs SET created = ? WHERE blob_id = ?`),
		blobList:       b(`SELECT blob_id, size, chunks, compression, created FROM KS.blobs WHERE token(blob_id) >= ? AND token(blob_id) <= ?`),
		blobClaimed:    b(`SELECT created FROM KS.blobs WHERE blob_id = ?`),
		blobDelete:     b(`DELETE FROM KS.blobs USING TIMESTAMP ? WHERE blob_id = ?`),
		chunkDelete:    b(`DELETE FROM KS.blob_chunks USING TIMESTAMP ? WHERE blob_id = ? AND chunk = ?`),
		purgeGet:       b(`SELECT unref, condemned FROM KS.blob_purge WHERE blob_id = ?`),
		purgeMark:      b(`UPDATE KS.blob_purge SET unref = ? WHERE blob_id = ?`),
		purgeCondemn:   b(`UPDATE KS.blob_purge SET condemned = ? WHERE blob_id = ?`),
		purgeUncondemn: b(`DELETE condemned FROM KS.blob_purge WHERE blob_id = ?`),
		purgeClear:     b(`DELETE FROM KS.blob_purge USING TIMESTAMP ? WHERE blob_id = ?`),
		todoBlobs:      m(`SELECT blob FROM KS.uncertain_todo WHERE shard = ?`),

		leaseRenew:  m(`UPDATE KS.purge_lease USING TTL ? SET holder = ? WHERE name = ? IF holder = ?`),
		leaseTake:   m(`INSERT INTO KS.purge_lease (name, holder) VALUES (?, ?) IF NOT EXISTS USING TTL ?`),
		leaseGet:    m(`SELECT holder FROM KS.purge_lease WHERE name = ?`),
		goneInsert:  m(`INSERT INTO KS.gone_mailboxes (shard, mailbox_id, deleted) VALUES (?, ?, ?)`),
		goneList:    m(`SELECT mailbox_id, deleted, last_bucket, uidnext FROM KS.gone_mailboxes WHERE shard = ?`),
		goneSet:     m(`UPDATE KS.gone_mailboxes SET last_bucket = ?, uidnext = ? WHERE shard = ? AND mailbox_id = ?`),
		goneDelete:  m(`DELETE FROM KS.gone_mailboxes WHERE shard = ? AND mailbox_id = ?`),
		dropLog:     m(`DELETE FROM KS.mblog WHERE mailbox_id = ? AND bucket = ?`),
		dropMsgs:    m(`DELETE FROM KS.msgs WHERE mailbox_id = ? AND ubucket = ?`),
		dropMeta:    m(`DELETE FROM KS.msgmeta WHERE mailbox_id = ? AND ubucket = ?`),
		dropSpill:   m(`DELETE FROM KS.metaspill WHERE mailbox_id = ? AND meta_id = ?`),
		dropCur:     m(`DELETE FROM KS.mbcur WHERE mailbox_id = ?`),
		dropBuckets: m(`DELETE FROM KS.mbbuckets WHERE mailbox_id = ?`),
		dropLedger:  m(`DELETE FROM KS.uncertain WHERE mailbox_id = ?`),
		trimGet:     m(`SELECT floor, floor_bucket, low, mark_modseq, mark_at FROM KS.logtrim WHERE mailbox_id = ?`),
		trimFloor:   m(`UPDATE KS.logtrim SET floor = ?, floor_bucket = ? WHERE mailbox_id = ?`),
		trimMark:    m(`UPDATE KS.logtrim SET low = ?, mark_modseq = ?, mark_at = ? WHERE mailbox_id = ?`),
		trimBuckets: m(`DELETE FROM KS.mbbuckets WHERE mailbox_id = ? AND first_modseq < ?`),
		trimDrop:    m(`DELETE FROM KS.logtrim WHERE mailbox_id = ?`),
		bucketAt:    m(`SELECT first_modseq, bucket FROM KS.mbbuckets WHERE mailbox_id = ? AND first_modseq <= ? LIMIT 1`),
		chunkKeys:   b(`SELECT DISTINCT blob_id, chunk FROM KS.blob_chunks WHERE token(blob_id, chunk) >= ? AND token(blob_id, chunk) <= ?`),
		chunkAge:    b(`SELECT WRITETIME(data) FROM KS.blob_chunks WHERE blob_id = ? AND chunk = ?`),
		spillKeys:   m(`SELECT DISTINCT mailbox_id, meta_id FROM KS.metaspill WHERE token(mailbox_id, meta_id) >= ? AND token(mailbox_id, meta_id) <= ?`),
		spillAge:    m(`SELECT WRITETIME(meta) FROM KS.metaspill WHERE mailbox_id = ? AND meta_id = ?`),
		spillDelete: m(`DELETE FROM KS.metaspill USING TIMESTAMP ? WHERE mailbox_id = ? AND meta_id = ?`),
		expScan:     m(`SELECT uid, modseq, expunged FROM KS.msgs WHERE mailbox_id = ? AND ubucket = ?`),
		expDrop:     m(`DELETE FROM KS.msgs WHERE mailbox_id = ? AND ubucket = ? AND uid >= ? AND uid <= ?`),
		expDropMeta: m(`DELETE FROM KS.msgmeta WHERE mailbox_id = ? AND ubucket = ? AND uid >= ? AND uid <= ?`),
		logKeys:     m(`SELECT DISTINCT mailbox_id, bucket FROM KS.mblog WHERE token(mailbox_id, bucket) >= ? AND token(mailbox_id, bucket) <= ?`),
		headAge:     m(`SELECT WRITETIME(head_modseq) FROM KS.mblog WHERE mailbox_id = ? AND bucket = ? LIMIT 1`),
		recIDs:      m(`SELECT id FROM KS.mailboxes`),
		// The per-user partitions of users that are gone (strays.go).
		userIDs:  m(`SELECT id FROM KS.users`),
		recKeys:  m(`SELECT DISTINCT user_id FROM KS.mailboxes WHERE token(user_id) >= ? AND token(user_id) <= ?`),
		recAges:  m(`SELECT id, WRITETIME(id), WRITETIME(fence) FROM KS.mailboxes WHERE user_id = ?`),
		recDrop:  m(`DELETE FROM KS.mailboxes USING TIMESTAMP ? WHERE user_id = ?`),
		uidvKeys: m(`SELECT DISTINCT user_id FROM KS.uidvalidity WHERE token(user_id) >= ? AND token(user_id) <= ?`),
		uidvDrop: m(`DELETE FROM KS.uidvalidity USING TIMESTAMP ? WHERE user_id = ?`),
		subKeys:  m(`SELECT DISTINCT user_id FROM KS.subscriptions WHERE token(user_id) >= ? AND token(user_id) <= ?`),
		subDrop:  m(`DELETE FROM KS.subscriptions USING TIMESTAMP ? WHERE user_id = ?`),
	}
}
