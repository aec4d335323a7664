package scim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// The Users endpoint: thin translations to accounts (CreateUser,
// UpdateUser, Disable, Enable, Delete); every rule is the service's.

var errUserNotFound = &Error{Status: http.StatusNotFound, Detail: "There is no user with this id."}

// user loads the user of the path's {id}; only IDs name users here.
func (h *Handler) user(ctx context.Context, id string) (users.User, error) {
	u, err := h.acct.Store().GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return u, errUserNotFound
	}
	return u, err
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := h.user(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeUser(w, r, http.StatusOK, u)
}

// withGroups is u's SCIM form with the groups u is a member of.
func (h *Handler) withGroups(ctx context.Context, u users.User) (userResource, error) {
	res := toUser(u, h.base("Users"))
	gs, err := h.acct.GroupsOf(ctx, u)
	for _, g := range gs {
		res.Groups = append(res.Groups, multiValueRef{Value: g.ID, Display: g.Name, Ref: h.base("Groups/" + g.ID), Type: "direct"})
	}
	return res, err
}

func (h *Handler) writeUser(w http.ResponseWriter, r *http.Request, status int, u users.User) {
	res, err := h.withGroups(r.Context(), u)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	out, err := project(res, splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes")))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeResource(w, status, res.Meta.Location, res.Meta.Version, out)
}

// readUser decodes a User body and checks what only SCIM knows (the
// schemas, the userName); the service checks the rest.
func readUser(r *http.Request) (userResource, error) {
	var res userResource
	if err := decode(r, &res); err != nil {
		return res, err
	}
	if len(res.Schemas) > 0 && !containsFold(res.Schemas, SchemaUser) {
		return res, &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "schemas must include " + SchemaUser + "."}
	}
	if strings.TrimSpace(res.UserName) == "" {
		return res, &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "userName (the user's email address) is required."}
	}
	return res, nil
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	res, err := readUser(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var u users.User
	res.apply(&u)
	actor := h.actor(r)
	// No password: a provisioned user signs in after an invitation link
	// (idp users invite, the console), or through a password an
	// administrator sets. A password a connector generates (Okta's
	// "sync password") is ignored rather than held to the policy.
	u, err = h.acct.CreateUser(r.Context(), actor, accounts.NewUser{User: u, NoPassword: true})
	if accounts.ErrorCode(err) == accounts.Conflict {
		err = &Error{Status: http.StatusConflict, Type: "uniqueness", Detail: "A user with this userName already exists."}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if res.Active != nil && !bool(*res.Active) {
		if _, err := h.acct.Disable(r.Context(), actor, u.ID); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if u, err = h.user(r.Context(), u.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeUser(w, r, http.StatusCreated, u)
}

// setUser stores res as the user's profile (through UpdateUser) and its
// active flag (through Disable or Enable), each only if it changes.
func (h *Handler) setUser(ctx context.Context, actor accounts.Actor, id string, res userResource, action string) (users.User, error) {
	cur, err := h.user(ctx, id)
	if err != nil {
		return cur, err
	}
	// A PUT or PATCH that changes nothing writes nothing and leaves no
	// audit event: UpdateUser's rule.
	_, err = h.acct.UpdateUser(ctx, actor, id, action, func(u *users.User) error {
		res.apply(u)
		return nil
	})
	if accounts.ErrorCode(err) == accounts.Conflict {
		return cur, &Error{Status: http.StatusConflict, Type: "uniqueness", Detail: "Another user already has this userName."}
	}
	if err != nil {
		return cur, err
	}
	if res.Active != nil && bool(*res.Active) == cur.Disabled {
		if *res.Active {
			err = h.acct.Enable(ctx, actor, id)
		} else {
			_, err = h.acct.Disable(ctx, actor, id)
		}
		if err != nil {
			return cur, err
		}
	}
	return h.user(ctx, id)
}

func (h *Handler) replaceUser(w http.ResponseWriter, r *http.Request) {
	res, err := readUser(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	if res.ID != "" && res.ID != id {
		h.fail(w, r, &Error{Status: http.StatusBadRequest, Type: "mutability", Detail: "id cannot be changed."})
		return
	}
	u, err := h.setUser(r.Context(), h.actor(r), id, res, "user.scim-replace")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeUser(w, r, http.StatusOK, u)
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request) {
	var req patchRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	cur, err := h.user(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	doc, err := asDoc(toUser(cur, h.base("Users")))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := applyPatch(doc, req.Operations, SchemaUser, SchemaFlexUser, knownUserAttr); err != nil {
		h.fail(w, r, err)
		return
	}
	var res userResource
	if err := fromDoc(doc, &res); err != nil {
		h.fail(w, r, err)
		return
	}
	if strings.TrimSpace(res.UserName) == "" {
		h.fail(w, r, &Error{Status: http.StatusBadRequest, Type: "mutability", Detail: "userName is required and cannot be removed."})
		return
	}
	u, err := h.setUser(r.Context(), h.actor(r), id, res, "user.scim-patch")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeUser(w, r, http.StatusOK, u)
}

// asDoc and fromDoc convert a resource to and from its JSON form.
func asDoc(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func fromDoc(doc map[string]any, v any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "After the operations the resource is not valid: " + err.Error()}
	}
	return nil
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := h.user(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.acct.Delete(r.Context(), h.actor(r), id); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) {
	q, err := queryOf(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respondUsers(w, r, q)
}

func (h *Handler) searchUsers(w http.ResponseWriter, r *http.Request) {
	var body struct {
		listQuery
		Attributes         []string `json:"attributes"`
		ExcludedAttributes []string `json:"excludedAttributes"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	q := body.listQuery
	q.Attributes, q.ExcludedAttributes = body.Attributes, body.ExcludedAttributes
	if q.StartIndex == 0 {
		q.StartIndex = 1
	}
	h.respondUsers(w, r, q)
}

// listPage is how many users a filtered list reads from the store at once.
const listPage = 500

func (h *Handler) respondUsers(w http.ResponseWriter, r *http.Request, q listQuery) {
	ctx := r.Context()
	var f expr
	if q.Filter != "" {
		var err error
		if f, err = parseFilter(q.Filter, knownUserAttr); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	start, count := q.page()
	resp := listResponse{Schemas: []string{schemaList}, StartIndex: start, Resources: []any{}}
	add := func(u users.User) error {
		resp.TotalResults++
		if resp.TotalResults >= start && len(resp.Resources) < count {
			res, err := h.withGroups(ctx, u)
			if err != nil {
				return err
			}
			out, err := project(res, q.Attributes, q.ExcludedAttributes)
			if err != nil {
				return err
			}
			resp.Resources = append(resp.Resources, out)
		}
		return nil
	}
	total := -1
	if f == nil {
		// Without a filter the store counts, and the walk stops once the
		// page is full.
		n, err := h.acct.Store().CountUsers(ctx, store.UserFilter{})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		total = n
		inner := add
		add = func(u users.User) error {
			if len(resp.Resources) >= count {
				return errPageFull
			}
			return inner(u)
		}
	}
	if err := h.eachUser(ctx, f, add); err != nil && !errors.Is(err, errPageFull) {
		h.fail(w, r, err)
		return
	}
	if total >= 0 {
		resp.TotalResults = total
	}
	resp.ItemsPerPage = len(resp.Resources)
	writeJSON(w, "application/scim+json", http.StatusOK, resp)
}

// errPageFull stops eachUser once a list page without a filter is full.
var errPageFull = errors.New("page full")

// eachUser calls fn for every user matching f, in email order. The
// filters provisioning clients send before each change (userName eq,
// externalId eq) are one indexed look-up; any other filter is evaluated
// on each user's SCIM form, a page of the store at a time.
func (h *Handler) eachUser(ctx context.Context, f expr, fn func(users.User) error) error {
	st := h.acct.Store()
	if c, ok := f.(comparison); ok && c.op == "eq" && (c.path.urn == "" || strings.EqualFold(c.path.urn, SchemaUser)) && c.path.sub == "" {
		if v, ok := c.value.(string); ok {
			switch strings.ToLower(c.path.attr) {
			case "username":
				u, err := st.GetUserByEmail(ctx, users.NormalizeEmail(v))
				if errors.Is(err, store.ErrNotFound) {
					return nil
				} else if err != nil {
					return err
				}
				return fn(u)
			case "externalid":
				list, err := st.ListUsers(ctx, store.UserFilter{ExternalID: v})
				if err != nil {
					return err
				}
				for _, u := range list {
					if err := fn(u); err != nil {
						return err
					}
				}
				return nil
			}
		}
	}
	base := h.base("Users")
	var after store.UserCursor
	for {
		list, err := st.ListUsers(ctx, store.UserFilter{After: after, Limit: listPage})
		if err != nil {
			return err
		}
		for _, u := range list {
			if f != nil {
				doc, err := asDoc(toUser(u, base))
				if err != nil {
					return err
				}
				if !match(f, doc, SchemaUser) {
					continue
				}
			}
			if err := fn(u); err != nil {
				return err
			}
		}
		if len(list) < listPage {
			return nil
		}
		after = store.CursorOf(list[len(list)-1])
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
