package imapwire

import (
	"slices"
	"strings"
)

// Command is one client command. Name is upper-cased; for "UID FETCH" and
// the other UID forms (RFC 9051 6.4.9) Name is the command after UID and UID
// is true. Args holds the typed arguments, or nil for commands without any:
//
//	CAPABILITY NOOP LOGOUT STARTTLS IDLE CLOSE UNSELECT EXPUNGE NAMESPACE CHECK
//	          nil (EXPUNGE with UID: *UIDExpungeArgs)
//	AUTHENTICATE *AuthenticateArgs   LOGIN *LoginArgs      ENABLE *EnableArgs
//	SELECT EXAMINE *SelectArgs       CREATE *CreateArgs    RENAME *RenameArgs
//	DELETE SUBSCRIBE UNSUBSCRIBE GETQUOTAROOT *MailboxArgs
//	LIST LSUB *ListArgs   STATUS *StatusArgs   APPEND *AppendArgs
//	SEARCH *SearchArgs    FETCH *FetchArgs     STORE *StoreArgs
//	COPY MOVE *CopyArgs   SORT *SortArgs       THREAD *ThreadArgs
//	GETQUOTA *QuotaRootArgs  SETQUOTA *SetQuotaArgs
//	COMPRESS *CompressArgs   ID *IDArgs
type Command struct {
	Tag  string
	Name string
	UID  bool
	Args any
}

// ReadCommand reads the next command. An unfinished APPEND is discarded
// first (see Discard). Errors are *SyntaxError, *LimitError, or the
// underlying reader's error (io.EOF between commands); after the first two
// the rest of the command has been skipped unless the LimitError is Fatal.
func (r *Reader) ReadCommand() (cmd *Command, err error) {
	if err := r.finish(); err != nil {
		return nil, err
	}
	r.tag, r.cmd, r.used, r.nlit, r.litBytes = "", "", 0, 0, 0
	defer r.catch(&err)
	r.readLine()
	if r.eol() {
		r.fail("empty command line, expected tag")
	}
	tag := r.run(isTagChar)
	if tag == "" {
		r.fail("expected tag at %s", r.here())
	}
	r.tag = tag
	r.sp("after tag")
	cmd = &Command{Tag: tag, Name: r.keyword("command name")}
	r.cmd = cmd.Name
	if cmd.Name == "UID" {
		r.sp("after UID")
		cmd.UID = true
		cmd.Name = r.keyword("command name after UID")
		r.cmd = "UID " + cmd.Name
		switch cmd.Name {
		case "COPY", "MOVE", "FETCH", "SEARCH", "STORE", "EXPUNGE", "SORT", "THREAD":
		default:
			r.fail("unknown UID command %q", cmd.Name)
		}
	}
	cmd.Args = r.args(cmd)
	if cmd.Name != "APPEND" {
		r.end()
	}
	return cmd, nil
}

// args parses the arguments of cmd, everything after the name up to CRLF.
func (r *Reader) args(cmd *Command) any {
	switch cmd.Name {
	case "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "IDLE", "CLOSE", "UNSELECT", "NAMESPACE", "CHECK":
		return nil
	case "EXPUNGE":
		if cmd.UID {
			r.sp("before UID set")
			return &UIDExpungeArgs{Set: r.seqSet("UID EXPUNGE")}
		}
		return nil
	case "AUTHENTICATE":
		r.sp("before SASL mechanism")
		a := &AuthenticateArgs{Mechanism: strings.ToUpper(r.atom("SASL mechanism"))}
		if r.take(' ') {
			a.HasInitialResponse = true
			if !r.take('=') {
				a.InitialResponse = r.run(isBase64Char)
				if a.InitialResponse == "" {
					r.fail("expected base64 initial response or \"=\" at %s", r.here())
				}
			} else {
				a.InitialResponse = "="
			}
		}
		return a
	case "LOGIN":
		r.sp("before user name")
		u := r.astring("user name")
		r.sp("before password")
		return &LoginArgs{Username: u, Password: r.astring("password")}
	case "ENABLE":
		a := &EnableArgs{}
		r.sp("before capability")
		for {
			a.Capabilities = append(a.Capabilities, strings.ToUpper(r.atom("capability name")))
			if !r.take(' ') {
				return a
			}
		}
	case "SELECT", "EXAMINE":
		return r.selectArgs()
	case "CREATE":
		return r.createArgs()
	case "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT":
		r.sp("before mailbox name")
		return &MailboxArgs{Mailbox: r.mailbox("mailbox name")}
	case "RENAME":
		r.sp("before mailbox name")
		from := r.mailbox("existing mailbox name")
		r.sp("before new mailbox name")
		return &RenameArgs{From: from, To: r.mailbox("new mailbox name")}
	case "LIST":
		return r.listArgs()
	case "LSUB":
		r.sp("before reference")
		a := &ListArgs{Reference: r.mailbox("reference name")}
		r.sp("before mailbox pattern")
		a.Patterns = []string{r.listMailbox()}
		return a
	case "STATUS":
		r.sp("before mailbox name")
		a := &StatusArgs{Mailbox: r.mailbox("mailbox name")}
		r.sp("before status items")
		a.Items = r.statusItems()
		return a
	case "APPEND":
		return r.appendArgs()
	case "SEARCH":
		return r.searchArgs()
	case "FETCH":
		return r.fetchArgs()
	case "STORE":
		return r.storeArgs()
	case "COPY", "MOVE":
		r.sp("before sequence set")
		a := &CopyArgs{Set: r.seqSet(cmd.Name)}
		r.sp("before mailbox name")
		a.Mailbox = r.mailbox("destination mailbox name")
		return a
	case "SORT":
		return r.sortArgs()
	case "THREAD":
		return r.threadArgs()
	case "GETQUOTA":
		r.sp("before quota root")
		return &QuotaRootArgs{Root: r.astring("quota root")}
	case "SETQUOTA":
		return r.setQuotaArgs()
	case "COMPRESS":
		r.sp("before compression mechanism")
		return &CompressArgs{Mechanism: strings.ToUpper(r.atom("compression mechanism"))}
	case "ID":
		return r.idArgs()
	}
	r.fail("unknown command %q", cmd.Name)
	return nil
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || isDigit(c) || c == '+' || c == '/' || c == '='
}

func (r *Reader) createArgs() *CreateArgs {
	r.sp("before mailbox name")
	a := &CreateArgs{Mailbox: r.mailbox("mailbox name")}
	if !r.take(' ') {
		return a
	}
	// RFC 4466 2.2 create-params; RFC 6154 3 USE.
	r.parenList("CREATE parameters", false, func() {
		if name := r.keyword("CREATE parameter"); name != "USE" {
			r.fail("unknown CREATE parameter %q", name)
		}
		r.sp("after USE")
		r.parenList("USE list", false, func() {
			r.expect('\\', "special-use attribute")
			a.SpecialUse = append(a.SpecialUse, `\`+r.atom("special-use attribute"))
		})
	})
	return a
}

func (r *Reader) selectArgs() *SelectArgs {
	r.sp("before mailbox name")
	a := &SelectArgs{Mailbox: r.mailbox("mailbox name")}
	if !r.take(' ') {
		return a
	}
	r.parenList("SELECT parameters", false, func() {
		switch name := r.keyword("SELECT parameter"); name {
		case "CONDSTORE":
			a.CondStore = true
		case "QRESYNC":
			r.sp("after QRESYNC")
			a.QResync = r.qresync()
		default:
			r.fail("unknown SELECT parameter %q", name)
		}
	})
	return a
}

// qresync parses "(" uidvalidity SP mod-sequence-value [SP known-uids]
// [SP seq-match-data] ")" (RFC 7162 3.2.5).
func (r *Reader) qresync() *QResyncParams {
	q := &QResyncParams{}
	r.expect('(', "start of QRESYNC parameters")
	q.UIDValidity = r.nzNumber("UIDVALIDITY")
	r.sp("after UIDVALIDITY in QRESYNC")
	if q.ModSeq = r.number64("mod-sequence"); q.ModSeq == 0 {
		r.fail("QRESYNC mod-sequence must not be zero")
	}
	if r.take(' ') && r.peek() != '(' {
		s := r.seqSet("known UIDs")
		q.KnownUIDs = &s
		r.take(' ')
	}
	if r.take('(') {
		seq := r.seqSet("known sequence set")
		r.sp("in sequence match data")
		uid := r.seqSet("known UID set")
		r.expect(')', "end of sequence match data")
		q.SeqMatch, q.UIDMatch = &seq, &uid
	}
	r.expect(')', "end of QRESYNC parameters")
	return q
}

func (r *Reader) listMailbox() string {
	var s string
	switch r.peek() {
	case '"', '{':
		s = r.string("mailbox pattern")
	default:
		if s = r.run(isListChar); s == "" {
			r.fail("expected mailbox pattern at %s", r.here())
		}
	}
	return r.decodeMailbox(s, "mailbox pattern", true)
}

// listArgs parses LIST with LIST-EXTENDED (RFC 5258 6) options.
func (r *Reader) listArgs() *ListArgs {
	a := &ListArgs{}
	r.sp("before reference")
	if r.peek() == '(' {
		a.Select = []string{}
		r.parenList("selection options", true, func() {
			switch o := r.keyword("selection option"); o {
			case "SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE":
				a.Select = append(a.Select, o)
			default:
				r.fail("unknown LIST selection option %q", o)
			}
		})
		r.sp("after selection options")
	}
	a.Reference = r.decodeMailbox(r.astring("reference name"), "reference name", true)
	r.sp("before mailbox pattern")
	if r.peek() == '(' {
		r.parenList("mailbox patterns", false, func() { a.Patterns = append(a.Patterns, r.listMailbox()) })
	} else {
		a.Patterns = []string{r.listMailbox()}
	}
	if r.take(' ') {
		if k := r.keyword("RETURN"); k != "RETURN" {
			r.fail("expected RETURN, got %q", k)
		}
		r.sp("after RETURN")
		a.Return = []string{}
		r.parenList("return options", true, func() {
			switch o := r.keyword("return option"); o {
			case "SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "MYRIGHTS":
				a.Return = append(a.Return, o)
			case "STATUS":
				a.Return = append(a.Return, o)
				r.sp("after STATUS")
				a.ReturnStatus = r.statusItems()
			default:
				r.fail("unknown LIST return option %q", o)
			}
		})
	}
	if slices.Contains(a.Select, "RECURSIVEMATCH") && !slices.ContainsFunc(a.Select, func(o string) bool {
		return o != "RECURSIVEMATCH" && o != "REMOTE"
	}) {
		r.fail("RECURSIVEMATCH needs another selection option than REMOTE (RFC 5258 3.1)")
	}
	return a
}

// statusItems parses "(" status-att *(SP status-att) ")" (RFC 9051 6.3.11,
// RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ, RFC 7889 APPENDLIMIT, RFC 8474
// MAILBOXID).
func (r *Reader) statusItems() []string {
	var items []string
	r.parenList("status items", false, func() {
		switch it := r.keyword("status item"); it {
		case "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT",
			"HIGHESTMODSEQ", "APPENDLIMIT", "MAILBOXID", "DELETED-STORAGE":
			items = append(items, it)
		default:
			r.fail("unknown status item %q", it)
		}
	})
	return items
}

func (r *Reader) setQuotaArgs() *SetQuotaArgs {
	r.sp("before quota root")
	a := &SetQuotaArgs{Root: r.astring("quota root"), Limits: []QuotaLimit{}}
	r.sp("before quota limits")
	r.parenList("quota limits", true, func() {
		l := QuotaLimit{Resource: strings.ToUpper(r.atom("quota resource name"))}
		r.sp("after quota resource name")
		l.Limit = r.number64("quota limit")
		a.Limits = append(a.Limits, l)
	})
	return a
}

func (r *Reader) idArgs() *IDArgs {
	r.sp("before ID parameters")
	a := &IDArgs{}
	if r.takeFold("NIL") {
		return a
	}
	a.Params = []IDParam{}
	r.parenList("ID parameters", true, func() {
		p := IDParam{Key: r.string("ID field name")}
		r.sp("after ID field name")
		p.Value, p.HasValue = r.nstring("ID field value")
		a.Params = append(a.Params, p)
	})
	if len(a.Params) > 30 {
		r.fail("more than 30 ID fields (RFC 2971 3.3)")
	}
	return a
}
