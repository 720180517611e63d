package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/amojwt/amojwt/verifier"
)

// reloadSettle is how long the keys file must stay quiet after a change
// before it is reloaded: an editor's save or a copy is several events, and
// reloading at the first could read a half-written file (harmless, since a
// failed reload keeps the keys in use, but noisy in the log).
const reloadSettle = 100 * time.Millisecond

// keysReloader reloads a keys file on SIGHUP and when the file changes.
type keysReloader struct {
	kf      *verifier.KeysFile
	logger  *slog.Logger
	metrics *metrics
}

// watchKeys reloads kf when the process gets SIGHUP and when the file
// changes, until the returned stop function is called. It watches the
// file's directory rather than the file, so that a file replaced by rename
// (editors, `amojwt keygen --keys`, `mv new.json keys.json`) or through a
// Kubernetes ConfigMap (which swaps a "..data" symlink beside it) is seen.
// Each reload is logged and counted; a reload that fails keeps the keys in
// use (verifier.KeysFile.Reload is atomic) and logs why. When the directory
// cannot be watched (no inotify instances left, say), it logs a warning and
// reloads on SIGHUP only.
func watchKeys(kf *verifier.KeysFile, logger *slog.Logger, m *metrics) (stop func()) {
	w, err := watchDir(filepath.Dir(kf.Path()))
	if err != nil {
		logger.Warn("amojwt keys file not watched; reload it with SIGHUP", "error", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	r := &keysReloader{kf: kf, logger: logger, metrics: m}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.loop(ctx, w, hup)
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
		if w != nil {
			w.Close()
		}
	}
}

// watchDir returns a watcher of dir.
func watchDir(dir string) (*fsnotify.Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// loop reloads on SIGHUP and on changes w reports (w may be nil) until ctx
// is done.
func (r *keysReloader) loop(ctx context.Context, w *fsnotify.Watcher, hup <-chan os.Signal) {
	name := filepath.Base(r.kf.Path())
	settle := time.NewTimer(reloadSettle)
	settle.Stop()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}
	for {
		select {
		case <-ctx.Done():
			settle.Stop()
			return
		case <-hup:
			r.reload("SIGHUP")
		case ev, ok := <-events:
			if !ok {
				return
			}
			base := filepath.Base(ev.Name)
			if ev.Op != fsnotify.Chmod && (base == name || strings.HasPrefix(base, "..")) {
				settle.Reset(reloadSettle)
			}
		case err, ok := <-errs:
			if !ok {
				return
			}
			r.logger.Warn("amojwt keys file watch", "error", err)
		case <-settle.C:
			r.reload("file change")
		}
	}
}

// reload reloads the keys file, then logs and counts the result.
func (r *keysReloader) reload(trigger string) {
	err := r.kf.Reload()
	r.metrics.keysReloaded(err)
	if err != nil {
		r.logger.Error("amojwt keys reload failed; keeping the keys in use", "trigger", trigger, "error", err)
		return
	}
	r.logger.Info("amojwt keys reloaded", "trigger", trigger, "file", r.kf.Path(), "keys", r.kf.Len())
}
