package message

import (
	"encoding/base64"
	"io"
	"strings"
	"testing"
)

// benchMessage returns a realistic message of about 20 KB: trace fields,
// a multipart/alternative text and HTML body and a base64 attachment.
func benchMessage() string {
	var b strings.Builder
	b.WriteString(crlf(`Return-Path: <sender@example.com>
Received: from mail-lf1-f41.example.com (mail-lf1-f41.example.com [192.0.2.41])
	by mx.example.org (Postfix) with ESMTPS id 4Z8k1b2c3d
	for <rcpt@example.org>; Tue,  4 Mar 2025 12:00:01 +0000 (UTC)
Received: by mail-lf1-f41.example.com with SMTP id 2adb3069b0e04-5495c1e1b63so123456e87.0
        for <rcpt@example.org>; Tue, 04 Mar 2025 04:00:00 -0800 (PST)
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=20230601; t=1741089600;
	h=to:subject:message-id:date:from:mime-version:from:to:cc:subject:date:message-id:reply-to;
	bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
	b=Qf9l0bLqVQ6c3gT0yO0X8m8w4m2qJX3Jr3m5s9Yt0b1q2w3e4r5t6y7u8i9o0p1a2s3d4f5g6h7j8k9l0
MIME-Version: 1.0
From: "Sender, Some" <sender@example.com>
Date: Tue, 4 Mar 2025 13:00:00 +0100
Message-ID: <CAF1234567890abcdef=xyz@mail.example.com>
Subject: =?UTF-8?Q?Quarterly_report_=E2=80=93_Q1?=
To: Recipient One <rcpt@example.org>, rcpt2@example.org
Cc: team:a@example.org, b@example.org;
References: <prev1@example.com> <prev2@example.com>
In-Reply-To: <prev2@example.com>
Content-Type: multipart/mixed; boundary="000000000000c0ffee0123456789"

--000000000000c0ffee0123456789
Content-Type: multipart/alternative; boundary="000000000000beef0123456789"

--000000000000beef0123456789
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

`))
	for i := 0; b.Len() < 4500; i++ {
		b.WriteString("Here is the quarterly report, with the numbers we discussed on Monday=\r\n and the plan for the next quarter. Line " + strings.Repeat("x", i%20) + "\r\n")
	}
	b.WriteString(crlf(`
--000000000000beef0123456789
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

`))
	for b.Len() < 9000 {
		b.WriteString("<div dir=3D\"ltr\">Here is the quarterly report, with the numbers we discus=\r\nsed on Monday.</div><div><br></div>\r\n")
	}
	b.WriteString(crlf(`
--000000000000beef0123456789--
--000000000000c0ffee0123456789
Content-Type: application/pdf; name="Q1 report.pdf"
Content-Disposition: attachment; filename="Q1 report.pdf"
Content-Transfer-Encoding: base64
Content-ID: <f_m7x1q2w30>
X-Attachment-Id: f_m7x1q2w30

`))
	data := make([]byte, 8200)
	for i := range data {
		data[i] = byte(i * 7)
	}
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--000000000000c0ffee0123456789--\r\n")
	return b.String()
}

func BenchmarkScan(b *testing.B) {
	raw := benchMessage()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	r := strings.NewReader(raw)
	for b.Loop() {
		r.Reset(raw)
		if _, err := Scan(r, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	p, err := Scan(strings.NewReader(benchMessage()), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	p, err := Scan(strings.NewReader(benchMessage()), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := p.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBase64Decode decodes a 1 MB base64 body of 76-character lines,
// as a delivery's attachment is decoded to be hashed and converted.
func BenchmarkBase64Decode(b *testing.B) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	enc := base64.StdEncoding.EncodeToString(data)
	var lines strings.Builder
	for len(enc) > 76 {
		lines.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	lines.WriteString(enc + "\r\n")
	body := lines.String()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r, _ := TransferDecoder("base64", strings.NewReader(body))
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != int64(len(data)) {
			b.Fatalf("decoded %d bytes: %v", n, err)
		}
	}
}

// BenchmarkUnmarshalEnvelope decodes the same tree's envelope alone, as
// FETCH ENVELOPE does.
func BenchmarkUnmarshalEnvelope(b *testing.B) {
	p, err := Scan(strings.NewReader(benchMessage()), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := p.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := UnmarshalEnvelope(enc); err != nil {
			b.Fatal(err)
		}
	}
}
