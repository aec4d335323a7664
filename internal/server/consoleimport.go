package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/flexidp/flexidp/internal/i18n"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/importer"
	"github.com/flexidp/flexidp/internal/store"
)

// The console's Import page: upload a users file (any format idp users
// import reads), see the dry run (accounts.CheckImport, the CLI's own
// check), then apply it in the background (accounts.ApplyImport, all or
// nothing) and follow its progress on a page that reloads itself (an
// HTTP Refresh header while the import runs; no script).

// maxShownProblems caps the problems listed on the dry-run page; the
// count of the rest is shown.
const maxShownProblems = 1000

// progressEvery is how often the progress page reloads while an import
// runs, and how long a request for it waits for the import to end.
const progressEvery = 2 * time.Second

// importPageView is the Import page.
type importPageView struct {
	Formats  []importer.Format
	Format   string
	MaxMiB   int
	Error    string
	ErrorFor string
}

// importJobView is the dry run and the progress of one file.
type importJobView struct {
	importView
	Shown    []importer.Problem
	Hidden   int
	NotReady string
	Action   string
}

func (s *Server) importPage(w http.ResponseWriter, r *http.Request, status int, format, msg string) {
	s.consoleRender(w, r, status, "import", "Import users", importPageView{Formats: importer.Formats, Format: format,
		MaxMiB: maxImportUpload >> 20, Error: msg})
}

// consoleImportPage shows the upload form.
func (s *Server) consoleImportPage(w http.ResponseWriter, r *http.Request) {
	s.importPage(w, r, http.StatusOK, "", "")
}

// consoleImportCheck reads the uploaded file, keeps its valid users for
// the apply and shows the dry run. Nothing is written. A file flexidp
// cannot read as users is shown on the upload form with the reason.
func (s *Server) consoleImportCheck(w http.ResponseWriter, r *http.Request) {
	c := consoleFrom(r)
	formatName := r.PostFormValue("format")
	format, err := importer.ParseFormat(formatName)
	if err != nil {
		s.importPage(w, r, http.StatusBadRequest, "", "Choose one of the formats listed, or let flexidp detect it.")
		return
	}
	file, hdr, err := r.FormFile("file")
	if err != nil {
		s.importPage(w, r, http.StatusBadRequest, formatName, "Choose a users file to upload.")
		return
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxImportUpload+1))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(data) > maxImportUpload {
		s.fail(w, r, errImportTooLarge)
		return
	}
	check, err := s.acct.CheckImport(r.Context(), bytes.NewReader(data), format, false)
	if s.formRefused(w, r, err, func(status int, msg string) { s.importPage(w, r, status, formatName, msg) }) {
		return
	}
	id, err := s.imports.add(c.user.ID, hdr.Filename, check, data)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, consolePrefix+"/import/"+id, http.StatusSeeOther)
}

var errImportGone = &Error{Status: http.StatusNotFound, Message: i18n.Raw("This import is no longer here. Nothing was imported from it."),
	Hint: i18n.Raw("A checked file waits 30 minutes on the server that checked it. Upload the file again.")}

// consoleImportJob shows the dry run of a checked file, then the progress
// and the result of its import.
func (s *Server) consoleImportJob(w http.ResponseWriter, r *http.Request) {
	c := consoleFrom(r)
	v, ok := s.imports.view(c.user.ID, chi.URLParam(r, "id"), progressEvery)
	if !ok {
		s.fail(w, r, errImportGone)
		return
	}
	jv := importJobView{importView: v, Action: consolePrefix + "/import/" + v.ID + "/apply"}
	jv.Shown = v.Check.Problems
	if len(jv.Shown) > maxShownProblems {
		jv.Shown, jv.Hidden = jv.Shown[:maxShownProblems], len(jv.Shown)-maxShownProblems
	}
	if err := v.Check.Ready(); err != nil {
		jv.NotReady = err.Error()
	}
	title := "Import: dry run"
	switch {
	case v.Finished:
		title = "Import: done"
		if v.Err != nil {
			title = "Import: failed"
		}
	case v.Started:
		title = "Import: writing"
		w.Header().Set("Refresh", "2")
	}
	s.consoleRender(w, r, http.StatusOK, "importjob", title, jv)
}

// consoleImportApply starts the import of a checked file that has no bad
// row, and shows its progress (or its result, when it ends quickly). The
// file is checked again first, in the background: what is stored may have
// changed since the dry run.
func (s *Server) consoleImportApply(w http.ResponseWriter, r *http.Request) {
	c := consoleFrom(r)
	id := chi.URLParam(r, "id")
	v, ok := s.imports.view(c.user.ID, id, 0)
	if !ok {
		s.fail(w, r, errImportGone)
		return
	}
	if err := v.Check.Ready(); err != nil {
		s.fail(w, r, err)
		return
	}
	actor, format := s.consoleActor(r), v.Check.Format
	s.imports.start(c.user.ID, id, importWait, func(ctx context.Context, data []byte, progress func(done, total int)) (store.ImportResult, error) {
		again, err := s.acct.CheckImport(ctx, bytes.NewReader(data), format, true)
		if err == nil {
			err = again.Ready()
		}
		if err != nil && accounts.ErrorCode(err) != "" {
			return store.ImportResult{}, err
		}
		var r store.ImportResult
		if err == nil {
			r, err = s.acct.ApplyImport(ctx, actor, again.Users, progress)
		}
		if err != nil && accounts.ErrorCode(err) == "" {
			s.log.ErrorContext(ctx, "console import failed", "err", err)
			err = errors.New("Nothing was imported: flexidp could not write the users (the problem was logged).")
		}
		return r, err
	})
	http.Redirect(w, r, consolePrefix+"/import/"+id, http.StatusSeeOther)
}

// formRefused shows a failed form's error, and reports whether there was
// one: a refusal (4xx, such as an accounts error's sentence) goes back to
// the form through show; a failure is the error page.
func (s *Server) formRefused(w http.ResponseWriter, r *http.Request, err error, show func(status int, msg string)) bool {
	if err == nil {
		return false
	}
	if e := toError(err); e.Status < 500 {
		show(e.Status, e.Message.String())
	} else {
		s.fail(w, r, err)
	}
	return true
}

// consoleImportRoutes mounts the Import page (accounts.ImportExport).
func (s *Server) consoleImportRoutes(r chi.Router) {
	r.Route("/import", func(r chi.Router) {
		r.Use(s.can(accounts.ImportExport))
		r.Get("/", s.consoleImportPage)
		r.Post("/", s.consoleImportCheck)
		r.Get("/{id}", s.consoleImportJob)
		r.Post("/{id}/apply", s.consoleImportApply)
	})
}
