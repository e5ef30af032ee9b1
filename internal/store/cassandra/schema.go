package cassandra

import (
	"fmt"
	"strings"
)

// ddl is one schema statement and the keyspace whose cluster runs it.
type ddl struct {
	ks   *KeyspaceOptions
	stmt string
}

// SchemaCQL returns the CQL that Open runs, in order, to create keyspaces,
// tables and columns that are missing (a column added since a table was
// first created is added by ALTER TABLE ... ADD IF NOT EXISTS, so a
// keyspace of an older release is upgraded at start). Zero options take
// their defaults.
func SchemaCQL(o Options) []string {
	if d, err := o.withDefaults(); err == nil {
		o = d
	}
	var out []string
	for _, d := range schema(&o) {
		out = append(out, d.stmt)
	}
	return out
}

func replication(o *Options, k *KeyspaceOptions) string {
	if o.Strategy == Simple {
		return fmt.Sprintf("{'class': 'SimpleStrategy', 'replication_factor': %d}", k.RF)
	}
	return fmt.Sprintf("{'class': 'NetworkTopologyStrategy', '%s': %d}", strings.ReplaceAll(k.DataCenter, "'", "''"), k.RF)
}

func schema(o *Options) []ddl {
	var out []ddl
	add := func(k *KeyspaceOptions, format string) {
		out = append(out, ddl{k, strings.Join(strings.Fields(strings.ReplaceAll(format, "KS", k.Name)), " ")})
	}
	for _, k := range []*KeyspaceOptions{&o.Meta, &o.Msg, &o.Cache} {
		out = append(out, ddl{k, fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s AND durable_writes = %t",
			k.Name, replication(o, k), o.DurableWrites)})
	}
	m := &o.Meta
	add(m, `CREATE TABLE IF NOT EXISTS KS.users (address text PRIMARY KEY, id text, password_hash text,
		quota_storage bigint, quota_messages bigint, mailhost text, created timestamp, fence bigint)`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.uidvalidity (user_id text PRIMARY KEY, next bigint)`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.mailboxes (user_id text, name text, id text, uidvalidity bigint,
		special_use text, created timestamp, fence bigint static, PRIMARY KEY ((user_id), name))`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.subscriptions (user_id text, name text, PRIMARY KEY ((user_id), name))`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.mblog (mailbox_id text, bucket bigint, modseq bigint, uid bigint,
		kind tinyint, flags frozen<set<text>>, meta blob, meta_id blob, cid blob,
		uidnext bigint static, head_modseq bigint static, messages bigint static, unseen bigint static,
		deleted bigint static, size bigint static, rows bigint static, sealed boolean static,
		gone boolean static, mat_modseq bigint static, fence bigint static,
		PRIMARY KEY ((mailbox_id, bucket), modseq, uid))`)
	// Columns added since a table was first created: a keyspace made by an
	// older release gains them at the next start (a no-op otherwise).
	add(m, `ALTER TABLE KS.mblog ADD IF NOT EXISTS fence bigint static`)
	add(m, `ALTER TABLE KS.mailboxes ADD IF NOT EXISTS fence bigint static`)
	add(m, `ALTER TABLE KS.users ADD IF NOT EXISTS fence bigint`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.mbcur (mailbox_id text PRIMARY KEY, bucket bigint)`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.mbbuckets (mailbox_id text, first_modseq bigint, bucket bigint,
		PRIMARY KEY ((mailbox_id), first_modseq)) WITH CLUSTERING ORDER BY (first_modseq DESC)`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.metaspill (mailbox_id text, meta_id blob, meta blob,
		PRIMARY KEY ((mailbox_id, meta_id)))`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.msgs (mailbox_id text, ubucket bigint, uid bigint, modseq bigint,
		flags frozen<set<text>>, expunged boolean, PRIMARY KEY ((mailbox_id, ubucket), uid))`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.msgmeta (mailbox_id text, ubucket bigint, uid bigint, meta blob,
		PRIMARY KEY ((mailbox_id, ubucket), uid))`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.index_queue (grp text, bucket int, user_id text, mailbox_id text,
		marked timestamp, PRIMARY KEY ((grp, bucket), user_id, mailbox_id))`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.logtrim (mailbox_id text PRIMARY KEY, floor bigint, floor_bucket bigint,
		low bigint, mark_modseq bigint, mark_at timestamp)`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.purge_lease (name text PRIMARY KEY, holder text)`)
	add(m, `CREATE TABLE IF NOT EXISTS KS.gone_mailboxes (shard int, mailbox_id text, deleted timestamp,
		last_bucket bigint, uidnext bigint, PRIMARY KEY ((shard), mailbox_id))`)
	keep := int64(ledgerKeep.Seconds())
	add(m, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS KS.uncertain (mailbox_id text, blob text, cid blob, bucket bigint,
		modseq bigint, probe bigint, uid bigint, recorded timestamp, landed boolean,
		PRIMARY KEY ((mailbox_id), blob, cid)) WITH default_time_to_live = %d`, keep))
	add(m, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS KS.uncertain_todo (shard int, mailbox_id text, blob text, cid blob,
		bucket bigint, modseq bigint, probe bigint, uid bigint, recorded timestamp,
		PRIMARY KEY ((shard), mailbox_id, blob, cid)) WITH default_time_to_live = %d`, keep))
	add(&o.Msg, `CREATE TABLE IF NOT EXISTS KS.blobs (blob_id text PRIMARY KEY, size bigint, chunk_size int,
		chunks int, compression text, created timestamp)`)
	add(&o.Msg, `CREATE TABLE IF NOT EXISTS KS.blob_chunks (blob_id text, chunk int, data blob,
		PRIMARY KEY ((blob_id, chunk)))`)
	add(&o.Msg, `CREATE TABLE IF NOT EXISTS KS.blob_purge (blob_id text PRIMARY KEY, unref timestamp, condemned timestamp)`)
	add(&o.Cache, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS KS.parts_text (part_hash blob PRIMARY KEY,
		converter text, text text, created timestamp) WITH default_time_to_live = %d`, int64(o.CacheTTL.Seconds())))
	return out
}
