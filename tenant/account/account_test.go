package account_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/tenant/account"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "t.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func signIn(t *testing.T, db *store.DB, group, user string, at time.Time) account.Signed {
	t.Helper()
	out, err := trySignIn(db, group, user, at)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func trySignIn(db *store.DB, group, user string, at time.Time) (account.Signed, error) {
	var out account.Signed
	err := db.Update(func(tx *store.Tx) error {
		var err error
		out, err = account.SignInTx(tx, account.SignIn{
			Tenant: "acme",
			Group:  store.Group{UID: group, Name: "Group " + group},
			User:   store.User{UID: user, RealUID: user, FirstName: "Ann", LastName: "Lee"},
			Role:   "Admin",
			// The assertion was issued a second before it arrives.
			IssuedAt: at.Add(-time.Second),
		}, at)
		return err
	})
	return out, err
}

type state struct {
	groupCancelled, userBlocked, userGone, memberEnded bool
	groupRowInactive, userRowInactive                  bool
}

func read(t *testing.T, db *store.DB, group, user string) state {
	t.Helper()
	var s state
	err := db.View(func(tx *store.Tx) error {
		g, err := tx.Group("acme", group)
		if err != nil {
			return err
		}
		s.groupCancelled = g.Cancelled
		u, err := tx.User("acme", user)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.userGone = true
		case err != nil:
			return err
		default:
			s.userBlocked = u.Blocked
		}
		m, err := tx.Membership("acme", group, user)
		if err != nil {
			return err
		}
		s.memberEnded = m.Ended
		gr, err := tx.ConnectedByLocal("acme", store.KindGroup, group)
		if err != nil {
			return err
		}
		s.groupRowInactive = gr.Inactive
		ur, err := tx.ConnectedByLocal("acme", store.KindUser, user)
		if err != nil {
			return err
		}
		s.userRowInactive = ur.Inactive
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func update(t *testing.T, db *store.DB, fn func(tx *store.Tx) (string, error)) string {
	t.Helper()
	var msg string
	if err := db.Update(func(tx *store.Tx) error {
		var err error
		msg, err = fn(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestSignInCreatesThenReactivates(t *testing.T) {
	db := openDB(t)
	first := signIn(t, db, "cld-1", "usr-1", t0)
	if first.Reactivated || first.Group.Name != "Group cld-1" || first.User.FirstName != "Ann" {
		t.Fatalf("first sign-in: %+v", first)
	}
	if got := read(t, db, "cld-1", "usr-1"); got != (state{}) {
		t.Fatalf("after sign-in: %+v", got)
	}
	update(t, db, func(tx *store.Tx) (string, error) { return account.CancelGroup(tx, "acme", "cld-1", t0.Add(time.Hour)) })
	want := state{groupCancelled: true, userBlocked: true, memberEnded: true, groupRowInactive: true, userRowInactive: true}
	if got := read(t, db, "cld-1", "usr-1"); got != want {
		t.Fatalf("after cancel: %+v, want %+v", got, want)
	}
	again := signIn(t, db, "cld-1", "usr-1", t0.Add(2*time.Hour))
	if !again.Reactivated {
		t.Fatal("sign-in into a cancelled group does not report the reactivation")
	}
	if got := read(t, db, "cld-1", "usr-1"); got != (state{}) {
		t.Fatalf("after second sign-in: %+v", got)
	}
}

func TestCancelGroupIsIdempotent(t *testing.T) {
	db := openDB(t)
	signIn(t, db, "cld-1", "usr-1", t0)
	for i, want := range []string{
		"group cld-1 cancelled: 1 memberships ended",
		"group cld-1 cancelled again: already cancelled on 2026-03-01T11:00:00Z",
	} {
		msg := update(t, db, func(tx *store.Tx) (string, error) {
			return account.CancelGroup(tx, "acme", "cld-1", t0.Add(time.Duration(i+1)*time.Hour))
		})
		if msg != want {
			t.Errorf("cancel #%d: %q, want %q", i+1, msg, want)
		}
	}
	msg := update(t, db, func(tx *store.Tx) (string, error) { return account.CancelGroup(tx, "acme", "cld-9", t0) })
	if msg != "group cld-9 cancelled: unknown group, nothing to do" {
		t.Errorf("unknown group: %q", msg)
	}
}

func TestRemoveMemberRealModeBlocksOnlyGroupless(t *testing.T) {
	db := openDB(t)
	signIn(t, db, "cld-1", "usr-1", t0)
	signIn(t, db, "cld-2", "usr-1", t0)
	update(t, db, func(tx *store.Tx) (string, error) {
		return account.RemoveMember(tx, "acme", false, "cld-1", "usr-1", t0.Add(time.Hour))
	})
	if got := read(t, db, "cld-1", "usr-1"); !got.memberEnded || got.userBlocked {
		t.Fatalf("user with another group: %+v (want membership ended, user not blocked)", got)
	}
	update(t, db, func(tx *store.Tx) (string, error) {
		return account.RemoveMember(tx, "acme", false, "cld-2", "usr-1", t0.Add(time.Hour))
	})
	if got := read(t, db, "cld-2", "usr-1"); !got.memberEnded || !got.userBlocked || !got.userRowInactive {
		t.Fatalf("user left without a group: %+v (want ended, blocked, row inactive)", got)
	}
	// Repeating it changes nothing and is no error.
	msg := update(t, db, func(tx *store.Tx) (string, error) {
		return account.RemoveMember(tx, "acme", false, "cld-2", "usr-1", t0.Add(2*time.Hour))
	})
	if msg != "usr-1 removed from group cld-2" {
		t.Errorf("repeat: %q", msg)
	}
}

func TestRemoveMemberVirtualModeDeletesVirtualUser(t *testing.T) {
	db := openDB(t)
	local := account.VirtualUID("usr-1", "cld-1")
	if local != "usr-1.cld-1" {
		t.Fatalf("VirtualUID = %q", local)
	}
	signIn(t, db, "cld-1", local, t0)
	msg := update(t, db, func(tx *store.Tx) (string, error) {
		return account.RemoveMember(tx, "acme", true, "cld-1", "usr-1", t0.Add(time.Hour))
	})
	if msg != "usr-1 removed from group cld-1 (virtual user usr-1.cld-1 deleted)" {
		t.Errorf("message %q", msg)
	}
	if got := read(t, db, "cld-1", local); !got.userGone || !got.memberEnded || !got.userRowInactive {
		t.Fatalf("virtual user after removal: %+v", got)
	}
	msg = update(t, db, func(tx *store.Tx) (string, error) {
		return account.RemoveMember(tx, "acme", true, "cld-1", "usr-1", t0.Add(2*time.Hour))
	})
	if msg != "usr-1 removed from group cld-1 (virtual user usr-1.cld-1 already gone)" {
		t.Errorf("repeat: %q", msg)
	}
}

// A login whose assertion was issued before a removal does not undo it;
// one issued after it (the marketplace added the user again) does.
func TestSignInIssuedBeforeRemovalDoesNotRevive(t *testing.T) {
	cases := []struct {
		name   string
		remove func(tx *store.Tx, at time.Time) (string, error)
	}{
		{"member removed", func(tx *store.Tx, at time.Time) (string, error) {
			return account.RemoveMember(tx, "acme", false, "cld-1", "usr-1", at)
		}},
		{"group cancelled", func(tx *store.Tx, at time.Time) (string, error) {
			return account.CancelGroup(tx, "acme", "cld-1", at)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openDB(t)
			signIn(t, db, "cld-1", "usr-1", t0)
			removedAt := t0.Add(time.Hour)
			update(t, db, func(tx *store.Tx) (string, error) { return c.remove(tx, removedAt) })
			// Issued at the very time of the removal: refused, nothing changes.
			_, err := trySignIn(db, "cld-1", "usr-1", removedAt.Add(time.Second))
			if !errors.Is(err, account.ErrRemovedLater) {
				t.Fatalf("sign-in issued at the removal: err = %v, want ErrRemovedLater", err)
			}
			if got := read(t, db, "cld-1", "usr-1"); !got.memberEnded || !got.userBlocked {
				t.Fatalf("refused sign-in changed the account: %+v", got)
			}
			// Issued after it: the marketplace's newer word wins.
			signIn(t, db, "cld-1", "usr-1", removedAt.Add(2*time.Second))
			if got := read(t, db, "cld-1", "usr-1"); got != (state{}) {
				t.Fatalf("newer sign-in: %+v", got)
			}
		})
	}
}
