package statuspage

import "html/template"

// page is the status page. Each table has an id and each row a th (the
// name) and its td cells, so that tests (and scrapers) read it by
// structure.
var page = template.Must(template.New("status").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{{.RefreshSeconds}}">
<title>Quire status: {{.Host}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em} h2{font-size:1.1em;margin:1.4em 0 .4em}
.sub{color:#666} table{border-collapse:collapse;background:#fff;min-width:28em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
thead th{background:#eee} tr.bad td,tr.bad th{background:#fde2e2;color:#8a1111}
.grid{display:flex;flex-wrap:wrap;gap:0 2.5em}
</style>
</head>
<body>
<h1>Quire {{.Role}} on {{.Host}}</h1>
<p class="sub">version {{.Version}} · generated {{.Generated}} · refreshes every {{.RefreshSeconds}} s</p>
<div class="grid">
<section>
<h2>Host and group</h2>
<table id="host">
<tr><th>host</th><td>{{.Host}}</td></tr>
<tr><th>group</th><td>{{.Group}}</td></tr>
{{range .Hosts}}<tr><th>member</th><td>{{.}}</td></tr>
{{end}}</table>
<h2>Notifier peers</h2>
{{if .HasPeers}}<table id="peers">
<thead><tr><th>peer</th><th>link</th><th>sent</th><th>dropped</th></tr></thead>
{{range .Peers}}<tr{{if .Bad}} class="bad"{{end}}><th>{{.Name}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{else}}<tr><td colspan="4">no other host in this group</td></tr>
{{end}}</table>{{else}}<p>No notifier (notify.listen is empty): this host runs alone.</p>{{end}}
<h2>Connections</h2>
<table id="connections">
<thead><tr><th>protocol</th><th>open</th><th>accepted</th><th>refused</th></tr></thead>
{{range .Connections}}<tr><th>{{.Name}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
</section>
<section>
<h2>Store</h2>
<table id="store">
{{range .Store}}<tr{{if .Bad}} class="bad"{{end}}><th>{{.Name}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if .Keyspaces}}<h2>Keyspaces</h2>
<table id="keyspaces">
<thead><tr><th>keyspace</th><th>name</th><th>data center</th><th>replication factor</th><th>connect points</th></tr></thead>
{{range .Keyspaces}}<tr>{{range $i, $c := .}}{{if eq $i 0}}<th>{{$c}}</th>{{else}}<td>{{$c}}</td>{{end}}{{end}}</tr>
{{end}}</table>{{end}}
{{if .Consistency}}<h2>Consistency</h2>
<table id="consistency">
<thead><tr><th>query class</th><th>state</th><th>consistency</th><th>fallback</th></tr></thead>
{{range .Consistency}}<tr{{if .Bad}} class="bad"{{end}}><th>{{.Name}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
<h2>Purge</h2>
{{if .Purge}}<table id="purge">
{{range .Purge}}<tr{{if .Bad}} class="bad"{{end}}><th>{{.Name}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{else}}<p>No purge on this host.</p>{{end}}
</section>
<section>
<h2>Converter</h2>
{{if .Converter}}<table id="converter">
{{range .Converter}}<tr{{if .Bad}} class="bad"{{end}}><th>{{.Name}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{else}}<p>No converter on this host.</p>{{end}}
<h2>Index</h2>
{{if .Index}}<table id="index">
{{range .Index}}<tr{{if .Bad}} class="bad"{{end}}><th>{{.Name}}</th>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{else}}<p>No search index (search.engine is off).</p>{{end}}
</section>
</div>
</body>
</html>
`))
