package sim

import "io"

// Version returns the version versionIdent names (an id, or a version
// number with dots or a "v" prefix) of the add-on addonIdent names, when
// the user with this id is one of its authors.
func (s *State) Version(userID int64, addonIdent, versionIdent string) (*Addon, *Version, error) {
	if err := checkUser(userID); err != nil {
		return nil, nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.authorsVersion(userID, addonIdent, versionIdent)
}

// authorsVersion is Version with s.mu held.
func (s *State) authorsVersion(userID int64, addonIdent, versionIdent string) (*Addon, *Version, error) {
	a, err := s.authorsAddon(userID, addonIdent)
	if err != nil {
		return nil, nil, err
	}
	v := a.findVersion(versionIdent)
	if v == nil {
		return nil, nil, ErrNotFound
	}
	return a, v, nil
}

// EditVersion applies edit (PATCH addon/<addon>/versions/<id>/) to the
// version Version would return, and returns the add-on and the version
// changed. A new source archive replaces the previous one.
func (s *State) EditVersion(userID int64, addonIdent, versionIdent string, edit *VersionEdit) (*Addon, *Version, error) {
	if err := checkUser(userID); err != nil {
		return nil, nil, err
	}
	if edit.errs != nil {
		// Only an author learns what is wrong with the request.
		if _, _, err := s.Version(userID, addonIdent, versionIdent); err != nil {
			return nil, nil, err
		}
		return nil, nil, invalid(edit.errs.clone())
	}
	// A new source is written before the lock is taken (it may be large),
	// under a name of its own so that the previous one stays whole until
	// the record that names the new one is written.
	var src *Source
	if edit.source != nil {
		src = &Source{Filename: edit.source.Name, Size: int64(len(edit.source.Data)), Blob: newUUIDHex()}
		if err := s.store.putBlob(sourceBlob(src.Blob), edit.source.Data); err != nil {
			return nil, nil, err
		}
	}
	a, v, old, err := s.editVersion(userID, addonIdent, versionIdent, edit, src)
	switch {
	case err != nil && src != nil:
		_ = s.store.deleteBlob(sourceBlob(src.Blob))
	case err == nil && old != nil && (src != nil || edit.clearSource):
		_ = s.store.deleteBlob(sourceBlob(old.Blob))
	}
	return a, v, err
}

// editVersion applies edit with the new source src (nil for none) under
// s.mu and returns the source it replaced or removed, if any.
func (s *State) editVersion(userID int64, addonIdent, versionIdent string, edit *VersionEdit, src *Source) (*Addon, *Version, *Source, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, v, err := s.authorsVersion(userID, addonIdent, versionIdent)
	if err != nil {
		return nil, nil, nil, err
	}
	old := v.Source
	nv := *v
	switch {
	case src != nil:
		nv.Source = src
	case edit.clearSource:
		nv.Source = nil
	}
	if edit.license != nil {
		nv.License = edit.license
	}
	if edit.notesSet {
		nv.ReleaseNotes = edit.releaseNotes
	}
	if edit.approvalNotes != nil {
		nv.ApprovalNotes = *edit.approvalNotes
	}
	updated := a.withVersion(&nv)
	if err := s.commit(addonRecord(a.ID), a.owner(), updated, sourceBytes(updated)); err != nil {
		return nil, nil, nil, err
	}
	s.replaceAddon(updated)
	return updated, &nv, old, nil
}

// Blob is a stored file opened for reading, with what a download names
// it; Close it after use.
type Blob struct {
	io.ReadSeekCloser
	Filename string
	// Version is the version the file belongs to.
	Version *Version
}

// OpenFile opens the file with this id of a version of one of the user's
// add-ons: the upload the version was created from. Files of other users'
// add-ons are ErrNotFound, as AMO hides what a caller may not see.
func (s *State) OpenFile(userID, fileID int64) (*Blob, error) {
	v, err := s.authorVersion(userID, func(v *Version) bool { return v.File.ID == fileID })
	if err != nil {
		return nil, err
	}
	rc, err := s.store.openBlob(uploadBlob(v.File.UploadUUID))
	if err != nil {
		return nil, err
	}
	return &Blob{ReadSeekCloser: rc, Filename: v.File.Filename, Version: v}, nil
}

// OpenSource opens the source archive of the version with this id of one
// of the user's add-ons; ErrNotFound as OpenFile, or when the version has
// no source.
func (s *State) OpenSource(userID, versionID int64) (*Blob, error) {
	v, err := s.authorVersion(userID, func(v *Version) bool { return v.ID == versionID && v.Source != nil })
	if err != nil {
		return nil, err
	}
	rc, err := s.store.openBlob(sourceBlob(v.Source.Blob))
	if err != nil {
		return nil, err
	}
	return &Blob{ReadSeekCloser: rc, Filename: v.Source.Filename, Version: v}, nil
}

// authorVersion returns the last version, among the add-ons userID is an
// author of, for which match is true, or ErrNotFound.
func (s *State) authorVersion(userID int64, match func(*Version) bool) (*Version, error) {
	if err := checkUser(userID); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var found *Version
	for _, a := range s.addons {
		if !a.IsAuthor(userID) {
			continue
		}
		for _, v := range a.Versions {
			if match(v) {
				found = v
			}
		}
	}
	if found == nil {
		return nil, ErrNotFound
	}
	return found, nil
}
