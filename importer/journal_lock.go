package importer

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// lockFile takes an exclusive, non-blocking OS lock on path (flock on Unix, LockFileEx on
// Windows) and writes our pid into it. The OS drops the lock when the process exits,
// however it exits, so a run killed with kill -9 never leaves a stale lock.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the journal lock: %w", err)
	}
	busy, err := tryLock(f)
	if err != nil || busy {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if busy {
			pid := strings.TrimSpace(string(b[:n]))
			if _, perr := strconv.Atoi(pid); perr != nil {
				pid = "unknown"
			}
			return nil, fmt.Errorf("%w (pid %s, lock file %s)", ErrJournalLocked, pid, path)
		}
		return nil, fmt.Errorf("locking the journal: %w", err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

func unlockFile(f *os.File) {
	_ = f.Truncate(0)
	unlock(f)
	f.Close()
}
