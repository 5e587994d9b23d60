package store

// SetBeforeUpdate makes Apply call fn between the read that decided to
// write the i-th repair of a batch and its UPDATE: a test changes the row
// there as another program would, or cancels the context mid-transaction.
func SetBeforeUpdate(t *Target, fn func(i int)) { t.beforeUpdate = fn }
