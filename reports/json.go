package reports

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wschaos/wschaos/result"
)

// Names of the files WriteFiles writes.
const (
	JSONFile  = "result.json"
	HTMLFile  = "index.html"
	JUnitFile = "junit.xml"
)

// WriteFiles writes r into dir as result.json, index.html and junit.xml,
// creating dir if needed. It checks r as result.Marshal does and renders all
// three before writing any, and each file is written under a temporary name
// and renamed, so a failure never leaves a half-written report behind.
func WriteFiles(dir string, r *result.Result) error {
	js, err := result.Marshal(r)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	// The page and the XML show the schema the JSON is written with, so
	// rendering the stored result again gives the same bytes.
	if r.Schema == "" {
		cp := *r
		cp.Schema = result.Schema
		r = &cp
	}
	var html, junit bytes.Buffer
	if err := WriteHTML(&html, r); err != nil {
		return err
	}
	if err := WriteJUnit(&junit, r); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{JSONFile, js}, {HTMLFile, html.Bytes()}, {JUnitFile, junit.Bytes()}} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	return nil
}
