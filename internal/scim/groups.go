package scim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// The Groups endpoint: translations to the groups service of
// internal/accounts (CreateGroup, UpdateGroup, DeleteGroup, AddMembers,
// RemoveMembers), whose rules (unique names, members' merged profiles
// that Flex would accept) apply unchanged.

// groupResource is a SCIM Group (RFC 7643 section 4.2); the flexidp
// extension carries what the group gives its members.
type groupResource struct {
	Schemas     []string        `json:"schemas"`
	ID          string          `json:"id,omitempty"`
	ExternalID  string          `json:"externalId,omitempty"`
	DisplayName string          `json:"displayName"`
	Members     []multiValueRef `json:"members"`
	Flex        *flexGroupExt   `json:"urn:flexidp:params:scim:schemas:extension:flex:2.0:Group,omitempty"`
	Meta        *meta           `json:"meta,omitempty"`
}

type multiValueRef struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Ref     string `json:"$ref,omitempty"`
	Type    string `json:"type,omitempty"`
}

type flexGroupExt struct {
	Description string         `json:"description,omitempty"`
	Roles       []string       `json:"roles,omitempty"`
	Team        string         `json:"team,omitempty"`
	Program     string         `json:"program,omitempty"`
	Attributes  attributes.Set `json:"attributes,omitempty"`
}

var groupAttrs = map[string][]string{
	"id": nil, "externalid": nil, "displayname": nil,
	"members": {"value", "display", "$ref", "type"},
	"meta":    {"resourcetype", "created", "lastmodified", "location", "version"},
}

var flexGroupAttrs = map[string][]string{"description": nil, "roles": nil, "team": nil, "program": nil, "attributes": nil}

var knownGroupAttr = knownIn(SchemaGroup, groupAttrs, SchemaFlexGroup, flexGroupAttrs)

var errGroupNotFound = &Error{Status: http.StatusNotFound, Detail: "There is no group with this id."}

func (h *Handler) groupRoutes(r chi.Router) {
	r.Get("/Groups", h.listGroups)
	r.Post("/Groups", h.createGroup)
	r.Get("/Groups/{id}", h.getGroup)
	r.Put("/Groups/{id}", h.replaceGroup)
	r.Patch("/Groups/{id}", h.patchGroup)
	r.Delete("/Groups/{id}", h.deleteGroup)
}

func (h *Handler) group(ctx context.Context, id string) (users.Group, error) {
	g, err := h.acct.Store().GetGroup(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return g, errGroupNotFound
	}
	return g, err
}

// toGroup is g's SCIM form with its members.
func (h *Handler) toGroup(ctx context.Context, g users.Group) (groupResource, error) {
	members, err := h.acct.Store().GroupMembers(ctx, g.ID)
	if err != nil {
		return groupResource{}, err
	}
	r := groupResource{Schemas: []string{SchemaGroup, SchemaFlexGroup}, ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.Name,
		Members: make([]multiValueRef, 0, len(members)),
		Flex:    &flexGroupExt{Description: g.Description, Roles: g.Roles, Team: g.Team, Program: g.Program, Attributes: g.Attributes},
		Meta: &meta{ResourceType: "Group", Created: scimTime(g.CreatedAt), LastModified: scimTime(g.UpdatedAt),
			Location: h.base("Groups/" + g.ID), Version: version(g.UpdatedAt)}}
	for _, m := range members {
		r.Members = append(r.Members, multiValueRef{Value: m.ID, Display: m.Email, Ref: h.base("Users/" + m.ID), Type: "User"})
	}
	return r, nil
}

// apply writes what r describes onto g (all but the ID and members).
func (r groupResource) apply(g *users.Group) {
	g.Name, g.ExternalID = r.DisplayName, r.ExternalID
	g.Description, g.Roles, g.Team, g.Program, g.Attributes = "", nil, "", "", nil
	if r.Flex != nil {
		g.Description, g.Roles, g.Team, g.Program, g.Attributes = r.Flex.Description, r.Flex.Roles, r.Flex.Team, r.Flex.Program, r.Flex.Attributes
	}
}

func (r groupResource) memberIDs() []string {
	var ids []string
	for _, m := range r.Members {
		if v := strings.TrimSpace(m.Value); v != "" && !slices.Contains(ids, v) {
			ids = append(ids, v)
		}
	}
	return ids
}

func (h *Handler) writeGroup(w http.ResponseWriter, r *http.Request, status int, g users.Group) {
	res, err := h.toGroup(r.Context(), g)
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

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := h.group(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeGroup(w, r, http.StatusOK, g)
}

func readGroup(r *http.Request) (groupResource, error) {
	var res groupResource
	if err := decode(r, &res); err != nil {
		return res, err
	}
	if len(res.Schemas) > 0 && !containsFold(res.Schemas, SchemaGroup) {
		return res, &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "schemas must include " + SchemaGroup + "."}
	}
	if strings.TrimSpace(res.DisplayName) == "" {
		return res, &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "displayName (the group's name) is required."}
	}
	return res, nil
}

// groupError maps the group service's errors: a taken name is a SCIM
// uniqueness error; members who would receive conflicting values are a
// 409 that names them; an unknown member is an invalid value.
func groupError(err error) error {
	var ce *users.ConflictError
	switch {
	case errors.As(err, &ce):
		return &Error{Status: http.StatusConflict, Detail: ce.Error()}
	case accounts.ErrorCode(err) == accounts.Conflict:
		return &Error{Status: http.StatusConflict, Type: "uniqueness", Detail: err.Error()}
	case accounts.ErrorCode(err) == accounts.NotFound:
		return &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "A member is not a user: " + err.Error()}
	}
	return err
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) {
	res, err := readGroup(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, actor := r.Context(), h.actor(r)
	var g users.Group
	res.apply(&g)
	// Members are checked before the group exists, so that a bad one
	// leaves nothing behind.
	for _, id := range res.memberIDs() {
		if _, err := h.user(ctx, id); err != nil {
			h.fail(w, r, &Error{Status: http.StatusBadRequest, Type: "invalidValue", Detail: "A member is not a user: " + id + "."})
			return
		}
	}
	g, err = h.acct.CreateGroup(ctx, actor, g)
	if err != nil {
		h.fail(w, r, groupError(err))
		return
	}
	if ids := res.memberIDs(); len(ids) > 0 {
		if err := h.acct.AddMembers(ctx, actor, g.ID, ids...); err != nil {
			// The group stays without the members that broke a rule; the
			// client is told why, and can retry the members alone.
			h.fail(w, r, groupError(err))
			return
		}
	}
	h.writeGroup(w, r, http.StatusCreated, g)
}

// setGroup stores res as the group (UpdateGroup, if anything changed) and
// its members (RemoveMembers and AddMembers for the difference).
func (h *Handler) setGroup(ctx context.Context, actor accounts.Actor, id string, res groupResource, members bool) (users.Group, error) {
	cur, err := h.group(ctx, id)
	if err != nil {
		return cur, err
	}
	// UpdateGroup writes (and audits) nothing when nothing changes.
	if _, err := h.acct.UpdateGroup(ctx, actor, id, func(g *users.Group) error {
		res.apply(g)
		return nil
	}); err != nil {
		return cur, groupError(err)
	}
	if members {
		have, err := h.acct.Store().GroupMembers(ctx, id)
		if err != nil {
			return cur, err
		}
		want := res.memberIDs()
		var gone, added []string
		for _, m := range have {
			if !slices.Contains(want, m.ID) {
				gone = append(gone, m.ID)
			}
		}
		for _, w := range want {
			if !slices.ContainsFunc(have, func(m users.User) bool { return m.ID == w }) {
				added = append(added, w)
			}
		}
		if len(gone) > 0 {
			if err := h.acct.RemoveMembers(ctx, actor, id, gone...); err != nil {
				return cur, groupError(err)
			}
		}
		if len(added) > 0 {
			if err := h.acct.AddMembers(ctx, actor, id, added...); err != nil {
				return cur, groupError(err)
			}
		}
	}
	return h.group(ctx, id)
}

func (h *Handler) replaceGroup(w http.ResponseWriter, r *http.Request) {
	res, err := readGroup(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	if res.ID != "" && res.ID != id {
		h.fail(w, r, &Error{Status: http.StatusBadRequest, Type: "mutability", Detail: "id cannot be changed."})
		return
	}
	g, err := h.setGroup(r.Context(), h.actor(r), id, res, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeGroup(w, r, http.StatusOK, g)
}

func (h *Handler) patchGroup(w http.ResponseWriter, r *http.Request) {
	var req patchRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, id := r.Context(), chi.URLParam(r, "id")
	cur, err := h.group(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.toGroup(ctx, cur)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	doc, err := asDoc(res)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := applyPatch(doc, req.Operations, SchemaGroup, SchemaFlexGroup, knownGroupAttr); err != nil {
		h.fail(w, r, err)
		return
	}
	var next groupResource
	if err := fromDoc(doc, &next); err != nil {
		h.fail(w, r, err)
		return
	}
	if strings.TrimSpace(next.DisplayName) == "" {
		h.fail(w, r, &Error{Status: http.StatusBadRequest, Type: "mutability", Detail: "displayName is required and cannot be removed."})
		return
	}
	g, err := h.setGroup(ctx, h.actor(r), id, next, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Okta and Entra ignore the body of a PATCH; a client that asked for
	// no members (excludedAttributes=members) gets none.
	h.writeGroup(w, r, http.StatusOK, g)
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := h.group(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.acct.DeleteGroup(r.Context(), h.actor(r), id); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request) {
	q, err := queryOf(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var f expr
	if q.Filter != "" {
		if f, err = parseFilter(q.Filter, knownGroupAttr); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	ctx := r.Context()
	list, err := h.acct.ListGroups(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	start, count := q.page()
	resp := listResponse{Schemas: []string{schemaList}, StartIndex: start, Resources: []any{}}
	for _, g := range list {
		res, err := h.toGroup(ctx, g)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if f != nil {
			doc, err := asDoc(res)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if !match(f, doc, SchemaGroup) {
				continue
			}
		}
		resp.TotalResults++
		if resp.TotalResults >= start && len(resp.Resources) < count {
			out, err := project(res, q.Attributes, q.ExcludedAttributes)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			resp.Resources = append(resp.Resources, out)
		}
	}
	resp.ItemsPerPage = len(resp.Resources)
	writeJSON(w, "application/scim+json", http.StatusOK, resp)
}
