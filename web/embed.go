// Package web embeds flexidp's HTML templates and static files.
package web

import "embed"

// Templates holds templates/*.html: one base layout and a page each; the
// admin console's pages are in templates/console.
//
//go:embed templates/*.html templates/console/*.html
var Templates embed.FS

// Static holds static/*: the stylesheet and the auto-submit script.
//
//go:embed static/*
var Static embed.FS
