package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/flexidp/flexidp/internal/i18n"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

// The console's imports: a file is checked when uploaded (the dry run)
// and kept, as uploaded, in this process's memory under a random ID; when
// the console user confirms, it is checked again (the users stored may
// have changed meanwhile) and applied in the background; the progress
// page reads the job until it is done.
const (
	// maxImportUpload bounds an uploaded users file (the page says so).
	// The CLI reads files up to importer.MaxFileSize.
	maxImportUpload = 32 << 20
	// importKeep is how long a checked file waits to be applied, and a
	// finished import's result stays readable.
	importKeep = 30 * time.Minute
	// maxImportJobs bounds the checked files held at once (each up to
	// maxImportUpload), over all console users.
	maxImportJobs = 8
	// importWait is how long the apply request waits for a small import
	// to finish before it shows the progress page instead.
	importWait = 3 * time.Second
)

// importJob is one checked file, then its import.
type importJob struct {
	id    string
	owner string                // the console user's ID: nobody else sees the job
	file  string                // the uploaded file's name, as the browser gave it
	check *accounts.ImportCheck // the dry run
	data  []byte                // the file, until applied
	at    time.Time             // checked, then finished

	// Set when applied; read under importJobs.mu.
	started, finished bool
	done, total       int
	result            store.ImportResult
	err               error
	// over is closed when the import finishes.
	over chan struct{}
}

// importView is a job's state, copied out under the lock for a page.
type importView struct {
	ID, File          string
	Check             *accounts.ImportCheck
	Started, Finished bool
	Done, Total, Pct  int
	Result            store.ImportResult
	Err               error
}

// importJobs holds the jobs of this process. An ID from another replica
// or from before a restart is not found: the page asks to upload again.
type importJobs struct {
	mu   sync.Mutex
	jobs map[string]*importJob
	now  func() time.Time
}

func newImportJobs(now func() time.Time) *importJobs {
	return &importJobs{jobs: map[string]*importJob{}, now: now}
}

// sweep forgets expired jobs that are not running; mu is held.
func (j *importJobs) sweep() {
	for id, job := range j.jobs {
		if (!job.started || job.finished) && j.now().Sub(job.at) > importKeep {
			delete(j.jobs, id)
		}
	}
}

// add keeps a checked file for owner, replacing the owner's previous
// checked file not yet applied. errBusyImports when too many are held.
func (j *importJobs) add(owner, file string, c *accounts.ImportCheck, data []byte) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sweep()
	for id, job := range j.jobs {
		if job.owner == owner && !job.started {
			delete(j.jobs, id)
		}
	}
	if len(j.jobs) >= maxImportJobs {
		return "", errBusyImports
	}
	id := randomToken()
	j.jobs[id] = &importJob{id: id, owner: owner, file: file, check: c, data: data, at: j.now(), over: make(chan struct{})}
	return id, nil
}

// view returns the owner's job id. A running import is waited for up to
// wait, so that a progress page answers at once when it ends.
func (j *importJobs) view(owner, id string, wait time.Duration) (importView, bool) {
	j.mu.Lock()
	job, ok := j.jobs[id]
	running := ok && job.owner == owner && job.started && !job.finished
	j.mu.Unlock()
	if running && wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-job.over:
		case <-t.C:
		}
		t.Stop()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok = j.jobs[id]
	if !ok || job.owner != owner {
		return importView{}, false
	}
	v := importView{ID: job.id, File: job.file, Check: job.check, Started: job.started, Finished: job.finished,
		Done: job.done, Total: job.total, Result: job.result, Err: job.err}
	if v.Total > 0 {
		v.Pct = v.Done * 100 / v.Total
	}
	return v, true
}

// start applies the owner's checked job id in the background with apply,
// once: a second start (a form posted twice) finds it started and only
// waits. It waits up to wait for the import to finish. ok is false when
// there is no such job.
func (j *importJobs) start(owner, id string, wait time.Duration,
	apply func(ctx context.Context, data []byte, progress func(done, total int)) (store.ImportResult, error)) (ok bool) {
	j.mu.Lock()
	job, found := j.jobs[id]
	if !found || job.owner != owner {
		j.mu.Unlock()
		return false
	}
	first := !job.started
	job.started = true
	data := job.data
	j.mu.Unlock()
	if first {
		go func() {
			progress := func(done, total int) {
				j.mu.Lock()
				job.done, job.total = done, total
				j.mu.Unlock()
			}
			// The import belongs to no request: it goes on when the
			// browser leaves, and is all or nothing (one transaction).
			r, err := apply(context.Background(), data, progress)
			j.mu.Lock()
			job.finished, job.result, job.err, job.at = true, r, err, j.now()
			job.data = nil // written (or not): free it
			j.mu.Unlock()
			close(job.over)
		}()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-job.over:
	case <-t.C:
	}
	return true
}

var errImportTooLarge = &Error{Status: http.StatusRequestEntityTooLarge,
	Message: i18n.Raw(fmt.Sprintf("The file is larger than the %d MiB the console accepts. Nothing was imported.", maxImportUpload>>20)),
	Hint:    i18n.Raw("Split the file, or import it with idp users import, which reads files up to 512 MiB.")}

var errBusyImports = &Error{Status: http.StatusServiceUnavailable, Message: i18n.Raw("Too many imports are waiting to be applied on this server right now."),
	Hint: i18n.Raw("Apply or abandon one, or try again in a few minutes.")}

// isUpload reports whether r posts a form with a file (multipart): the
// console's users file and SP certificate uploads.
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data")
}

// isImportUpload reports whether r posts a users file to the console's
// Import page: the one request whose body may be larger than a form's.
func isImportUpload(r *http.Request) bool {
	return isUpload(r) && r.URL.Path == consolePrefix+"/import"
}

// uploadMemory is how much of an upload is held in memory; the rest of
// the file goes to a temporary file, removed after the request.
const uploadMemory = 4 << 20

// parseUpload reads the multipart form of an upload; a file over the
// limit is refused with a sentence that gives it.
func parseUpload(r *http.Request) error {
	err := r.ParseMultipartForm(uploadMemory)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) && isImportUpload(r):
		return &Error{Status: errImportTooLarge.Status, Message: errImportTooLarge.Message, Hint: errImportTooLarge.Hint, Err: err}
	case errors.As(err, &tooBig):
		return &Error{Status: http.StatusRequestEntityTooLarge, Err: err,
			Message: i18n.Raw(fmt.Sprintf("The file is larger than the %d KiB flexidp accepts here. Nothing was changed.", maxFormBytes>>10))}
	case err != nil:
		return &Error{Status: http.StatusBadRequest, Err: err, Message: i18n.Raw("The upload could not be read as a form with a file."),
			Hint: i18n.Raw("Choose the file again and upload it.")}
	}
	return nil
}
