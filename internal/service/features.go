package service

import (
	"context"
	"strings"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/schema"
	"gatehouse/internal/apperr"
	"gatehouse/internal/events"
)

// CreateFeatureInput defines a new feature. Key and Kind never change.
type CreateFeatureInput struct {
	Key         string
	Name        string
	Description *string
	Kind        feature.Kind
}

// UpdateFeatureInput changes a feature; nil fields stay as they are.
type UpdateFeatureInput struct {
	Name        *string
	Description *string
}

func checkFeatureKey(field, key string) error {
	if !schema.FeatureKeyPattern.MatchString(key) {
		return apperr.Invalid(field, "must be 2 to 63 lower-case letters, digits or underscores, starting with a letter")
	}
	return nil
}

// CreateFeature defines a feature.
func (s *Service) CreateFeature(ctx context.Context, in CreateFeatureInput) (*ent.Feature, error) {
	if err := checkFeatureKey("key", in.Key); err != nil {
		return nil, err
	}
	name, err := text("name", in.Name, true, schema.FeatureNameMaxLen)
	if err != nil {
		return nil, err
	}
	desc := ""
	if in.Description != nil {
		if desc, err = text("description", *in.Description, false, schema.FeatureDescriptionMaxLen); err != nil {
			return nil, err
		}
	}
	if err := feature.KindValidator(in.Kind); err != nil {
		return nil, apperr.Invalid("kind", "must be SWITCH or LIMIT")
	}
	var f *ent.Feature
	err = s.tx(ctx, func(tx *ent.Tx) error {
		if f, err = tx.Feature.Create().
			SetKey(in.Key).
			SetName(name).
			SetDescription(desc).
			SetKind(in.Kind).
			Save(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, "feature.created", events.SubjectFeature, f.ID, events.Created(map[string]any{
			"key": f.Key, "name": f.Name, "description": f.Description, "kind": f.Kind,
		}))
	})
	return unwrap(f, err)
}

// UpdateFeature changes a feature's name or description.
func (s *Service) UpdateFeature(ctx context.Context, id int, in UpdateFeatureInput) (*ent.Feature, error) {
	var name, desc string
	var err error
	if in.Name != nil {
		if name, err = text("name", *in.Name, true, schema.FeatureNameMaxLen); err != nil {
			return nil, err
		}
	}
	if in.Description != nil {
		if desc, err = text("description", *in.Description, false, schema.FeatureDescriptionMaxLen); err != nil {
			return nil, err
		}
	}
	var f *ent.Feature
	err = s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.Feature.Get(ctx, id)
		if err != nil {
			return notFound(err, "feature", "id")
		}
		up := tx.Feature.UpdateOne(old)
		if in.Name != nil {
			up.SetName(name)
		}
		if in.Description != nil {
			up.SetDescription(desc)
		}
		if f, err = up.Save(ctx); err != nil {
			return notFound(err, "feature", "id")
		}
		return s.record(ctx, tx, "feature.updated", events.SubjectFeature, id, featureDiff(old, f))
	})
	return unwrap(f, err)
}

// DeleteFeature deletes a feature; one that a package content still uses
// is refused with CONFLICT (the foreign key is the last word).
func (s *Service) DeleteFeature(ctx context.Context, id int) (int, error) {
	err := s.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.Feature.Get(ctx, id)
		if err != nil {
			return notFound(err, "feature", "id")
		}
		n, err := tx.PackageContent.Query().Where(packagecontent.FeatureID(id)).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "the feature is used by %d package content(s); remove those first", n)
		}
		if err := tx.Feature.DeleteOneID(id).Exec(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, "feature.deleted", events.SubjectFeature, id, events.Diff{"key": {From: old.Key, To: nil}})
	})
	return id, err
}

// FindFeature looks a feature up by id or by key (exactly one given).
func (s *Service) FindFeature(ctx context.Context, id *int, key *string) (*ent.Feature, error) {
	var (
		f   *ent.Feature
		err error
	)
	switch {
	case (id == nil) == (key == nil):
		return nil, apperr.Invalid("id", "give exactly one of id and key")
	case id != nil:
		f, err = s.client.Feature.Get(ctx, *id)
	default:
		f, err = s.client.Feature.Query().Where(feature.Key(strings.TrimSpace(*key))).Only(ctx)
	}
	if ent.IsNotFound(err) {
		return nil, apperr.NotFoundf("feature not found")
	}
	return f, err
}

// contentFeature resolves a content's feature key and checks its limit
// against the feature's kind: a LIMIT feature needs a limit of at least 0,
// a SWITCH feature takes none. prefix is the fields' path ("" or
// "contents.3.").
func contentFeature(ctx context.Context, tx *ent.Tx, prefix, key string, limit *int) (*ent.Feature, error) {
	f, err := tx.Feature.Query().Where(feature.Key(strings.TrimSpace(key))).Only(ctx)
	if err != nil {
		return nil, notFound(err, "feature", prefix+"featureKey")
	}
	if err := checkLimit(prefix, f, limit); err != nil {
		return nil, err
	}
	return f, nil
}

func checkLimit(prefix string, f *ent.Feature, limit *int) error {
	switch {
	case f.Kind == feature.KindLIMIT && limit == nil:
		return apperr.Invalid(prefix+"limit", "is required for the LIMIT feature %s", f.Key)
	case f.Kind == feature.KindLIMIT && *limit < 0:
		return apperr.Invalid(prefix+"limit", "must be at least 0")
	case f.Kind == feature.KindSWITCH && limit != nil:
		return apperr.Invalid(prefix+"limit", "must be absent for the SWITCH feature %s", f.Key)
	}
	return nil
}
