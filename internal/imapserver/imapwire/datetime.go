package imapwire

import (
	"strings"
	"time"
)

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// date reads a search date: date-text, optionally quoted (RFC 9051 9).
func (r *Reader) date(what string) time.Time {
	q := r.take('"')
	t := r.dateText(what)
	if q {
		r.expect('"', "end of quoted date")
	}
	return t
}

// dateText reads date-day "-" date-month "-" date-year; the day may have
// one or two digits, or a leading space as in date-day-fixed.
func (r *Reader) dateText(what string) time.Time {
	r.take(' ')
	day := r.digits(what + " day")
	if len(day) > 2 {
		r.fail("%s: day has more than two digits", what)
	}
	r.expect('-', what)
	mon := -1
	for i, m := range months {
		if r.takeFold(m) {
			mon = i
			break
		}
	}
	if mon < 0 {
		r.fail("%s: expected month name (Jan..Dec) at %s", what, r.here())
	}
	r.expect('-', what)
	year := r.digits(what + " year")
	if len(year) != 4 {
		r.fail("%s: year must have four digits", what)
	}
	d, y := atoi(day), atoi(year)
	t := time.Date(y, time.Month(mon+1), d, 0, 0, 0, 0, time.UTC)
	if d < 1 || t.Day() != d {
		r.fail("%s: no such day", what)
	}
	return t
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// dateTime reads a quoted date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 9051
// 9).
func (r *Reader) dateTime() time.Time {
	r.expect('"', "start of date-time")
	day := r.dateText("date-time")
	r.sp("before time in date-time")
	var hms [3]int
	for i := range hms {
		if i > 0 {
			r.expect(':', "in time")
		}
		s := r.digits("time")
		if len(s) != 2 {
			r.fail("date-time: time fields have two digits")
		}
		hms[i] = atoi(s)
	}
	if hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
		r.fail("date-time: time out of range")
	}
	r.sp("before zone in date-time")
	sign := 1
	switch {
	case r.take('+'):
	case r.take('-'):
		sign = -1
	default:
		r.fail("date-time: expected zone (+hhmm or -hhmm)")
	}
	z := r.digits("zone")
	if len(z) != 4 || atoi(z[2:]) > 59 {
		r.fail("date-time: zone must be four digits")
	}
	r.expect('"', "end of date-time")
	off := sign * (atoi(z[:2])*3600 + atoi(z[2:])*60)
	loc := time.FixedZone("", off)
	return time.Date(day.Year(), day.Month(), day.Day(), hms[0], hms[1], hms[2], 0, loc)
}

// FormatDateTime formats t as an IMAP date-time, quotes included (RFC 9051
// 9), as INTERNALDATE is written.
func FormatDateTime(t time.Time) string {
	return t.Format(`"02-Jan-2006 15:04:05 -0700"`)
}

// FormatDate formats t as date-text, as SEARCH keys are written.
func FormatDate(t time.Time) string {
	return strings.TrimLeft(t.Format("2-Jan-2006"), " ")
}
