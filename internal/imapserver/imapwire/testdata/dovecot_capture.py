#!/usr/bin/env python3
"""Captures Dovecot's ENVELOPE, BODY and BODYSTRUCTURE for the golden test.

Run scripts/dovecot.sh start, then, from this directory:
    python3 dovecot_capture.py *.eml ../../../message/testdata/*.eml
It APPENDs each message byte for byte to a fresh mailbox of user1@bench.test
on 127.0.0.1:12143 and writes dovecot/<name>.txt: three lines, each the raw
value Dovecot printed (literals inline as {n}CRLF data).
"""
import os, re, socket, sys

def main():
    s = socket.create_connection(("127.0.0.1", int(os.environ.get("DOVECOT_IMAP_PORT", "12143"))))
    f = s.makefile("rb")
    f.readline()
    n = [0]
    def cmd(line, lit=None):
        n[0] += 1
        tag = b"t%d" % n[0]
        if lit is None:
            s.sendall(tag + b" " + line + b"\r\n")
        else:
            s.sendall(tag + b" " + line + b" {%d+}\r\n" % len(lit) + lit + b"\r\n")
        out = b""
        while True:
            l = f.readline()
            if not l:
                raise SystemExit("connection closed")
            m = re.search(rb"\{(\d+)\}\r\n$", l)
            if m:
                l += f.read(int(m.group(1)))
                out += l
                continue
            if l.startswith(tag + b" "):
                if not l.startswith(tag + b" OK"):
                    raise SystemExit(l)
                return out
            out += l
    cmd(b"LOGIN user1@bench.test bench")
    try:
        cmd(b"DELETE golden")
    except SystemExit:
        pass
    cmd(b"CREATE golden")
    cmd(b"SELECT golden")
    os.makedirs("dovecot", exist_ok=True)
    for i, path in enumerate(sys.argv[1:], 1):
        cmd(b"APPEND golden", open(path, "rb").read())
        vals = []
        for item in (b"ENVELOPE", b"BODY", b"BODYSTRUCTURE"):
            out = cmd(b"FETCH %d %s" % (i, item))
            prefix = b"* %d FETCH (%s " % (i, item)
            assert out.startswith(prefix) and out.endswith(b")\r\n"), out
            vals.append(out[len(prefix):-3])
        name = os.path.basename(path)[:-len(".eml")]
        open(os.path.join("dovecot", name + ".txt"), "wb").write(b"\n".join(vals) + b"\n")

main()
