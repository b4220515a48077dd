package reports

import (
	"fmt"

	"github.com/wschaos/wschaos/result"
)

// How each kind of event is drawn on the timeline. The class names a CSS
// class (m-<class>) and a marker shape.
const (
	mPing         = "ping"         // a tick above the lane
	mPong         = "pong"         // a tick below the lane
	mTraffic      = "traffic"      // a short tick: messages come by the thousand
	mDialing      = "dialing"      // an open circle: an attempt or a TCP connection starts
	mConnected    = "connected"    // an open green circle: upgraded, not yet usable
	mReady        = "ready"        // a green dot: usable
	mDisconnected = "disconnected" // a red cross: a connection ended badly, labelled with its code
	mClosed       = "closed"       // a grey cross: an ending nobody need worry about
	mBackoff      = "backoff"      // a bar and a line as long as the delay
	mGap          = "gap"          // a purple diamond: server messages lost for good
	mUndelivered  = "undelivered"  // an orange diamond: client messages given up on
	mFatal        = "fatal"        // a black triangle: the client stops
	mFault        = "fault"        // a red bar in the harness lane
	mNote         = "note"         // a small grey dot: the harness's own events
	mLink         = "link"         // no marker: the link lane's step line draws them
	mOther        = "other"        // a small dot
)

// markClass says how events of kind k are drawn, and whether k is one the
// page knows; an unknown kind is drawn as mOther.
func markClass(k result.Kind) (string, bool) {
	switch k {
	case result.KindPing, result.KindPingRecv:
		return mPing, true
	case result.KindPong:
		return mPong, true
	case result.KindSent, result.KindReceived, result.KindSend, result.KindRecv, result.KindPush,
		result.KindEcho, result.KindRaw, result.KindAckRecv, result.KindDup, result.KindStdout, result.KindStderr:
		return mTraffic, true
	case result.KindDialing, result.KindTapConnect:
		return mDialing, true
	case result.KindConnected, result.KindAccept, result.KindHello, result.KindPlain:
		return mConnected, true
	case result.KindReady, result.KindWelcome:
		return mReady, true
	case result.KindDisconnected, result.KindReject, result.KindShed, result.KindTapRefused, result.KindTapShed,
		result.KindCloseSent, result.KindDrop, result.KindBadFrame:
		return mDisconnected, true
	case result.KindTapClientClose, result.KindTapUpstreamClose, result.KindTapClosed,
		result.KindServerClosed, result.KindListenerStop, result.KindStopped, result.KindReturned:
		return mClosed, true
	case result.KindBackoff:
		return mBackoff, true
	case result.KindGap:
		return mGap, true
	case result.KindUndelivered:
		return mUndelivered, true
	case result.KindFatal:
		return mFatal, true
	case result.KindFaultStart, result.KindFaultEnd:
		return mFault, true
	case result.KindLinkStats:
		return mLink, true
	case result.KindOutside, result.KindWarm, result.KindDrain, result.KindNote, result.KindListen:
		return mNote, true
	case result.KindSendError, result.KindStall, result.KindPongWithheld,
		result.KindSessionNew, result.KindSessionExpired, result.KindSessionsForgotten:
		return mOther, true
	}
	return mOther, false
}

// drawClass is the class e is drawn with: its kind's, except that the
// harness stopping the client at the end of a run is no disconnect to
// worry about.
func drawClass(e *result.Event) string {
	c, _ := markClass(e.Kind)
	if c == mDisconnected && e.Teardown() {
		return mClosed
	}
	return c
}

// shape returns the path of the marker drawn for class at (x, y).
func shape(class string, x, y float64) string {
	X, Y := f1(x), f1(y)
	switch class {
	case mDialing, mConnected, mReady:
		// A circle of radius 4 as two arcs.
		return fmt.Sprintf("M%s %sa4 4 0 1 0 8 0a4 4 0 1 0 -8 0", f1(x-4), Y)
	case mDisconnected, mClosed:
		return fmt.Sprintf("M%s %sl8 8M%s %sl-8 8", f1(x-4), f1(y-4), f1(x+4), f1(y-4))
	case mGap, mUndelivered:
		return fmt.Sprintf("M%s %sl5 5l-5 5l-5 -5z", X, f1(y-5))
	case mFatal:
		return fmt.Sprintf("M%s %sl5 9h-10z", X, f1(y-5))
	case mBackoff:
		return fmt.Sprintf("M%s %sv10", X, f1(y-5))
	case mFault:
		return fmt.Sprintf("M%s %sv12", X, f1(y-6))
	}
	return fmt.Sprintf("M%s %sa3 3 0 1 0 6 0a3 3 0 1 0 -6 0", f1(x-3), Y)
}

// markLabel is the text drawn above a marker, "" for none: the close code
// or HTTP status of an ending, and the name of the rare events.
func markLabel(class string, e *result.Event) string {
	code := ""
	switch {
	case e.Code != 0:
		code = fmt.Sprint(int(e.Code))
	case e.Status != 0:
		code = fmt.Sprint(e.Status)
	}
	switch class {
	case mDisconnected:
		return code
	case mFatal:
		if code != "" {
			return "fatal " + code
		}
		return "fatal"
	case mGap:
		return "gap"
	case mUndelivered:
		return "undelivered"
	}
	return ""
}
