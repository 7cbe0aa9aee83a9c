package tui

import (
	"context"
	"errors"

	tea "charm.land/bubbletea/v2"

	"github.com/wsdump/wsdump/dissect"
)

// PipelineFunc reads the input and sends its events to sink until the input
// ends or ctx is done. It returns a one-line summary for the status bar and
// the input's error, if any.
type PipelineFunc func(ctx context.Context, sink dissect.Sink) (summary string, err error)

// Run shows the interface until the user quits (or ctx is done), running
// the pipeline in its own goroutine meanwhile. It returns the pipeline's
// error (a damaged input) or the terminal's.
func Run(ctx context.Context, o Options, fo FeedOptions, run PipelineFunc, popts ...tea.ProgramOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feed := NewFeed(fo)
	m := NewModel(feed, o)
	errc := make(chan error, 1)
	go func() {
		summary, err := run(ctx, feed)
		feed.Close(err, summary)
		errc <- err
	}()
	feed.Start()
	defer feed.Stop()
	popts = append([]tea.ProgramOption{tea.WithContext(ctx)}, popts...)
	p := tea.NewProgram(m, popts...)
	_, uiErr := p.Run()
	cancel()
	runErr := <-errc
	if uiErr != nil && !errors.Is(uiErr, tea.ErrProgramKilled) && !errors.Is(uiErr, context.Canceled) {
		return uiErr
	}
	return runErr
}
