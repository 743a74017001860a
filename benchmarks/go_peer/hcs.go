package main

// A small HCS binding in the design of hcsshim (internal/hcs callback.go and internal/hcs/v2 notification.go,
// operation.go, system.go): one callback per callback type for the whole program, an integer context registered in
// a lock-guarded map (never a Go pointer handed to C), one buffered channel per waiter, the result document copied
// out of HCS's UTF-16 string, freed, and decoded with json.Unmarshal into a struct by the goroutine that waits.

/*
#include "peer.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"sync"
	"unsafe"
)

const infinite = C.DWORD(0xFFFFFFFF)

// HcsError is a failed HCS call: its HRESULT and the result document HCS attached, if any.
type HcsError struct {
	Op     string
	HR     uint32
	Result string
}

func (e *HcsError) Error() string {
	if e.Result != "" {
		return fmt.Sprintf("%s: HRESULT 0x%08X: %s", e.Op, e.HR, e.Result)
	}
	return fmt.Sprintf("%s: HRESULT 0x%08X", e.Op, e.HR)
}

func failed(op string, hr C.HRESULT, doc string) error {
	return &HcsError{Op: op, HR: uint32(hr), Result: doc}
}

// ------------------------------------------------------------------------------------------------ operations

// opResult is what the completion callback hands to the waiting goroutine.
type opResult struct {
	hr  C.HRESULT
	doc string
}

var (
	opLock    sync.Mutex
	opNext    uintptr
	opWaiters = map[uintptr]chan opResult{}
)

func registerOperation() (uintptr, chan opResult) {
	ch := make(chan opResult, 1) // buffered: the HCS thread never blocks on a slow reader
	opLock.Lock()
	opNext++
	id := opNext
	opWaiters[id] = ch
	opLock.Unlock()
	return id, ch
}

func unregisterOperation(id uintptr) {
	opLock.Lock()
	delete(opWaiters, id)
	opLock.Unlock()
}

// goOperationCompleted is the single HCS_OPERATION_COMPLETION of the program. On the HCS thread it does what must
// happen there and no more, exactly like the C driver's and the raw cffi floor's callbacks: read the result, copy
// and free the string, close the operation (HCS runs no further callback for it), then wake the one waiter.
//
//export goOperationCompleted
func goOperationCompleted(op C.HCS_OPERATION, context unsafe.Pointer) {
	id := uintptr(context)
	opLock.Lock()
	ch := opWaiters[id]
	delete(opWaiters, id)
	opLock.Unlock()

	var doc C.PWSTR
	hr := C.HcsGetOperationResult(op, &doc)
	text := ""
	if doc != nil {
		text = utf16PtrToString((*uint16)(unsafe.Pointer(doc)))
		C.LocalFree(C.HLOCAL(unsafe.Pointer(doc)))
	}
	C.HcsCloseOperation(op)
	if ch != nil {
		ch <- opResult{hr, text}
	}
}

// pending is an asynchronous HCS call in flight: its result arrives on ch.
type pending struct {
	name string
	ch   chan opResult
}

// startAsync creates an operation with the completion callback and hands it to call; on a synchronous failure the
// operation never started, so it is closed here and no callback will come.
func startAsync(name string, call func(op C.HCS_OPERATION) C.HRESULT) (pending, error) {
	id, ch := registerOperation()
	op := C.peer_create_operation(C.uintptr_t(id))
	if op == nil {
		unregisterOperation(id)
		return pending{}, failed("HcsCreateOperation", C.HRESULT(-2147024882), "") // E_OUTOFMEMORY
	}
	if hr := call(op); hr < 0 {
		unregisterOperation(id)
		var doc C.PWSTR
		C.HcsGetOperationResult(op, &doc)
		text := ""
		if doc != nil {
			text = utf16PtrToString((*uint16)(unsafe.Pointer(doc)))
			C.LocalFree(C.HLOCAL(unsafe.Pointer(doc)))
		}
		C.HcsCloseOperation(op)
		return pending{}, failed(name, hr, text)
	}
	return pending{name, ch}, nil
}

// wait blocks until the completion callback has delivered the result.
func (p pending) wait() (string, error) {
	r := <-p.ch
	if r.hr < 0 {
		return "", failed(p.name, r.hr, r.doc)
	}
	return r.doc, nil
}

// runSync is hcsshim v2's runOperation: an operation with no callback, the call, HcsWaitForOperationResult.
func runSync(name string, call func(op C.HCS_OPERATION) C.HRESULT) (string, error) {
	op := C.HcsCreateOperation(nil, nil)
	if op == nil {
		return "", failed("HcsCreateOperation", C.HRESULT(-2147024882), "")
	}
	defer C.HcsCloseOperation(op)
	hr := call(op)
	var doc C.PWSTR
	if hr >= 0 {
		hr = C.HcsWaitForOperationResult(op, infinite, &doc)
	} else {
		C.HcsGetOperationResult(op, &doc)
	}
	text := ""
	if doc != nil {
		text = utf16PtrToString((*uint16)(unsafe.Pointer(doc)))
		C.LocalFree(C.HLOCAL(unsafe.Pointer(doc)))
	}
	if hr < 0 {
		return "", failed(name, hr, text)
	}
	return text, nil
}

// ------------------------------------------------------------------------------------------------ events

// notificationState meets a terminal event (SystemExited, ServiceDisconnect) with the system's waitBackground
// goroutine: the first signal wins, as in hcsshim v2.
type notificationState struct {
	once  sync.Once
	exit  chan string
	abort chan error
}

func newNotificationState() *notificationState {
	return &notificationState{exit: make(chan string, 1), abort: make(chan error, 1)}
}

func (s *notificationState) signalExit(data string) {
	s.once.Do(func() { s.exit <- data; close(s.exit) })
}

func (s *notificationState) signalAbort(err error) {
	s.once.Do(func() { s.abort <- err; close(s.abort) })
}

var (
	notifyLock     sync.RWMutex
	notifyNext     uintptr
	notifyContexts = map[uintptr]*notificationState{}
)

func registerNotification(state *notificationState) uintptr {
	notifyLock.Lock()
	notifyNext++
	id := notifyNext
	notifyContexts[id] = state
	notifyLock.Unlock()
	return id
}

func unregisterNotification(id uintptr) {
	if id == 0 {
		return
	}
	notifyLock.Lock()
	delete(notifyContexts, id)
	notifyLock.Unlock()
}

var errServiceDisconnected = fmt.Errorf("HCS service disconnected")

// goEventCallback is the single HCS_EVENT_CALLBACK of the program, for every system handle.
//
//export goEventCallback
func goEventCallback(event *C.HCS_EVENT, context unsafe.Pointer) {
	if event == nil {
		return
	}
	data := ""
	if event.EventData != nil {
		data = utf16PtrToString((*uint16)(unsafe.Pointer(event.EventData)))
	}
	notifyLock.RLock()
	state := notifyContexts[uintptr(context)]
	notifyLock.RUnlock()
	if state == nil {
		return
	}
	switch event.Type {
	case C.HcsEventSystemExited, C.HcsEventProcessExited:
		state.signalExit(data)
	case C.HcsEventServiceDisconnect:
		state.signalAbort(errServiceDisconnected)
	}
}

// ------------------------------------------------------------------------------------------------ systems

// Properties is the part of the Properties document this peer reads (the fake returns these for a NULL query).
type Properties struct {
	ID            string `json:"Id"`
	SystemType    string `json:"SystemType"`
	Name          string `json:"Name"`
	Owner         string `json:"Owner,omitempty"`
	RuntimeOsType string `json:"RuntimeOsType,omitempty"`
	State         string `json:"State"`
	Stopped       bool   `json:"Stopped"`
	ExitType      string `json:"ExitType,omitempty"`
}

// ExitStatus is the SystemExited event's document (hcsshim's waitBackground reads the same two fields).
type ExitStatus struct {
	Status   int32  `json:"Status"`
	ExitType string `json:"ExitType"`
}

// System is a compute system handle; handleLock is held for reading by every call on the handle and for writing
// by Close, so a handle is never closed under an HCS call that uses it (hcsshim's rule).
type System struct {
	id         string
	handleLock sync.RWMutex
	handle     C.HCS_SYSTEM

	notifyID  uintptr
	notify    *notificationState
	waitBlock chan struct{}
	waitOnce  sync.Once
	exit      ExitStatus
	exitErr   error
	onExit    func()
}

func newSystem(id string) *System {
	return &System{id: id, notify: newNotificationState(), waitBlock: make(chan struct{})}
}

// CreateSystem creates and starts a compute system from document (JSON), with its event callback registered and
// its waitBackground goroutine running, as hcsshim's CreateComputeSystem + Start do.
func CreateSystem(id, document string, onExit func()) (*System, error) {
	s := newSystem(id)
	s.onExit = onExit
	wid, err := utf16FromString(id)
	if err != nil {
		return nil, err
	}
	wdoc, err := utf16FromString(document)
	if err != nil {
		return nil, err
	}
	_, err = runSync("HcsCreateComputeSystem", func(op C.HCS_OPERATION) C.HRESULT {
		return C.HcsCreateComputeSystem((*C.WCHAR)(unsafe.Pointer(&wid[0])), (*C.WCHAR)(unsafe.Pointer(&wdoc[0])),
			op, nil, &s.handle)
	})
	if err != nil {
		if s.handle != nil {
			C.HcsCloseComputeSystem(s.handle)
		}
		return nil, err
	}
	s.notifyID = registerNotification(s.notify)
	if hr := C.peer_set_system_callback(s.handle, C.uintptr_t(s.notifyID)); hr < 0 {
		s.Close()
		return nil, failed("HcsSetComputeSystemCallback", hr, "")
	}
	go s.waitBackground()
	if _, err := runSync("HcsStartComputeSystem", func(op C.HCS_OPERATION) C.HRESULT {
		return C.HcsStartComputeSystem(s.handle, op, nil)
	}); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// waitBackground waits for SystemExited (or a service disconnect, or Close), decodes the exit status and releases
// every waiter: hcsshim's goroutine per system.
func (s *System) waitBackground() {
	var err error
	select {
	case <-s.waitBlock: // closed by Close: no exit to publish
		return
	case raw := <-s.notify.exit:
		if raw != "" {
			var status ExitStatus
			if uErr := json.Unmarshal([]byte(raw), &status); uErr == nil {
				s.exit = status
			}
		}
	case err = <-s.notify.abort:
	}
	s.waitOnce.Do(func() {
		s.exitErr = err
		close(s.waitBlock)
	})
	if s.onExit != nil {
		s.onExit()
	}
}

// Properties is HcsGetComputeSystemProperties (NULL query, as pyhcs's system.properties() sends) through the
// callback path: start the operation, block on its channel, decode the document.
func (s *System) Properties() (*Properties, error) {
	p, err := s.StartProperties()
	if err != nil {
		return nil, err
	}
	return s.FinishProperties(p)
}

// StartProperties starts HcsGetComputeSystemProperties and returns it in flight; FinishProperties must follow
// (it releases the handle lock taken here).
func (s *System) StartProperties() (pending, error) {
	s.handleLock.RLock()
	if s.handle == nil {
		s.handleLock.RUnlock()
		return pending{}, fmt.Errorf("system %s: handle already closed", s.id)
	}
	p, err := startAsync("HcsGetComputeSystemProperties", func(op C.HCS_OPERATION) C.HRESULT {
		return C.HcsGetComputeSystemProperties(s.handle, op, nil)
	})
	if err != nil {
		s.handleLock.RUnlock()
	}
	return p, err
}

func (s *System) FinishProperties(p pending) (*Properties, error) {
	doc, err := p.wait()
	s.handleLock.RUnlock()
	if err != nil {
		return nil, err
	}
	props := &Properties{}
	if err := json.Unmarshal([]byte(doc), props); err != nil {
		return nil, err
	}
	return props, nil
}

// PropertiesSync is the same call through hcsshim v2's runOperation (no callback, HcsWaitForOperationResult).
func (s *System) PropertiesSync() (*Properties, error) {
	s.handleLock.RLock()
	defer s.handleLock.RUnlock()
	doc, err := runSync("HcsGetComputeSystemProperties", func(op C.HCS_OPERATION) C.HRESULT {
		return C.HcsGetComputeSystemProperties(s.handle, op, nil)
	})
	if err != nil {
		return nil, err
	}
	props := &Properties{}
	if err := json.Unmarshal([]byte(doc), props); err != nil {
		return nil, err
	}
	return props, nil
}

// Terminate is HcsTerminateComputeSystem through runOperation (hcsshim's shim terminates what it created).
func (s *System) Terminate() error {
	s.handleLock.RLock()
	defer s.handleLock.RUnlock()
	if s.handle == nil {
		return nil
	}
	_, err := runSync("HcsTerminateComputeSystem", func(op C.HCS_OPERATION) C.HRESULT {
		return C.HcsTerminateComputeSystem(s.handle, op, nil)
	})
	return err
}

// Close closes the handle (HCS runs no callback for it afterwards), then forgets the notification context.
func (s *System) Close() {
	s.handleLock.Lock()
	if s.handle != nil {
		C.HcsCloseComputeSystem(s.handle)
		s.handle = nil
	}
	s.handleLock.Unlock()
	unregisterNotification(s.notifyID)
	s.notifyID = 0
	s.waitOnce.Do(func() { close(s.waitBlock) })
}

// triggerExits makes each named system stop by itself (the fake's FakeHcsSimulateUnexpectedExit).
func triggerExits(ids []string) (int, error) {
	cids := make([]*C.char, len(ids))
	for i, id := range ids {
		cids[i] = C.CString(id)
	}
	defer func() {
		for _, p := range cids {
			C.free(unsafe.Pointer(p))
		}
	}()
	arr := (**C.char)(C.malloc(C.size_t(len(ids)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(arr))
	copy(unsafe.Slice(arr, len(ids)), cids)
	return int(C.peer_trigger_exits(arr, C.int64_t(len(ids)))), nil
}

// counters reads the fake's leak counters.
func counters() map[string]int64 {
	var c C.FAKEHCS_COUNTERS
	C.FakeHcsGetCounters(&c)
	return map[string]int64{
		"OpenOperations":     int64(c.OpenOperations),
		"OpenSystemHandles":  int64(c.OpenSystemHandles),
		"OpenProcessHandles": int64(c.OpenProcessHandles),
		"OutstandingStrings": int64(c.OutstandingStrings),
		"LiveSystems":        int64(c.LiveSystems),
		"RunningProcesses":   int64(c.RunningProcesses),
		"CallbacksInFlight":  int64(c.CallbacksInFlight),
		"CallbacksDelivered": int64(c.CallbacksDelivered),
	}
}

func waitIdle(ms uint32) bool {
	return C.FakeHcsWaitIdle(C.uint32_t(ms)) == 1
}

// noMinimumDurations turns off the fake's realistic minimum durations of creates (tests/fakes/README.md,
// "Operations"), as benchmarks/run.py does for its own fake: the peer's figures then measure the binding, like
// every other variant's, and its setup (creating hundreds of systems) takes milliseconds instead of minutes.
func noMinimumDurations() {
	all := C.CString("*")
	defer C.free(unsafe.Pointer(all))
	C.FakeHcsSetMinimumDuration(all, 0)
}
